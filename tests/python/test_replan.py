"""Placement.replan: the budget semantics of `grace replan` from Python."""
import numpy as np
import pytest

import grace

DS = "deepseek-v2-lite"


def topk(tokens, seed, hot):
    # Tokens pick 6 of 64 experts, most picks among `hot` (so the two seeds route differently).
    rng = np.random.default_rng(seed)
    out = np.empty((tokens, 26, 6), dtype=np.int64)
    for t in range(tokens):
        for l in range(26):
            pool = hot if rng.random() < 0.8 else np.arange(64)
            out[t, l] = rng.choice(pool, 6, replace=False)
    return out


@pytest.fixture(scope="module")
def old():
    return grace.plan(topk(600, 1, np.arange(0, 64, 2)), model=DS, topology="2x4", policy="grace")


def test_budget_zero_keeps_and_budget_holds(old):
    recent = topk(600, 2, np.arange(0, 32))
    same, rep = old.replan(recent, max_moves=0)
    assert rep["moves"] == 0 and same.hash() == old.hash()
    new, rep = old.replan(recent, max_moves=10)
    assert 0 < rep["moves"] <= 10
    assert rep["bytes_moved"] == rep["moves"] * 3 * 2048 * 1408 * 2  # DeepSeek-V2-Lite expert: 17.3 MB
    assert rep["node_visits_after"] < rep["node_visits_before"]
    new.validate()


def test_horizon_tokens_make_moves_pay(old):
    recent = topk(600, 2, np.arange(0, 32))
    _, free = old.replan(recent)
    new, rep = old.replan(recent, horizon_tokens=409600)
    # expert bytes / (2 x token bytes x T) = 3 x 1408 / 2 / T for DeepSeek-V2-Lite
    assert rep["min_visits_per_move"] == pytest.approx(2112 / 409600)
    assert rep["moves"] <= free["moves"]
    saved = rep["node_visits_before"] - rep["node_visits_after"]
    assert saved >= rep["min_visits_per_move"] * rep["moves"] - 1e-12
    same, rep = old.replan(recent, horizon_tokens=10)  # no 17 MB copy pays back in 10 tokens
    assert rep["moves"] == 0 and rep["stopped_at_break_even"] and same.hash() == old.hash()
    new.validate()


def test_bad_input(old):
    with pytest.raises(ValueError, match="must be >= 0"):
        old.replan(topk(10, 3, np.arange(8)), max_moves=-1)
    with pytest.raises(ValueError, match="no tokens"):
        old.replan(np.zeros((0, 26, 6), dtype=np.int64))
    with pytest.raises(ValueError, match="26 MoE layers"):
        old.replan(np.zeros((5, 3, 6), dtype=np.int64))
    with pytest.raises(ValueError, match="horizon_tokens"):
        old.replan(topk(10, 3, np.arange(8)), horizon_tokens=0)


def test_threads_give_the_same_result_and_are_checked(old):
    # threads= as `grace replan --threads`: the profile, the searches and the full plan.
    recent = topk(600, 2, np.arange(0, 32))
    new, rep = old.replan(recent, max_moves=10)
    one, rep1 = old.replan(recent, max_moves=10, threads=1)
    assert one.hash() == new.hash() and rep1 == rep
    with pytest.raises(ValueError, match=r"replan: threads 300 must be in \[0, 256\]"):
        old.replan(recent, threads=300)
    with pytest.raises(TypeError):
        old.replan(recent, threads=1.5)
