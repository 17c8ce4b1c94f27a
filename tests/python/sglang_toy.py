"""The toy model and SGLang physical-to-logical map that the import tests build their dumps on:
3 decoder layers (layer 0 dense), 8 experts, top-2; 2 GPUs x 5 slots = 10 physical experts."""
MODEL = {"name": "toy3", "moe_layers": 2, "dense_layers": 1, "experts": 8, "top_k": 2, "hidden": 64,
         "moe_intermediate": 32}
PHY2LOG_ROWS = [[0, 1, 2, 3, 4, 5, 6, 7, 0, 1],
                [0, 1, 2, 3, 0, 4, 5, 6, 7, 3],
                [7, 6, 5, 4, 3, 2, 1, 0, 7, 6]]


def phy2log():
    """PHY2LOG_ROWS as the int64 tensor SGLang's recorder saves."""
    import torch

    return torch.tensor(PHY2LOG_ROWS, dtype=torch.int64)
