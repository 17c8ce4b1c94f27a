// sglang_load_check FILE NUM_HIDDEN_LAYERS FIRST_MOE_LAYER NUM_LOGICAL EP_NUM_REDUNDANT_EXPERTS EP_SIZE
// Runs an --init-expert-location file through the test-side model of SGLang's loader
// (sglang_harness.h) for a server whose decoder layers FIRST_MOE_LAYER..NUM_HIDDEN_LAYERS-1
// have FusedMoE. Prints "ok" and exits 0 when SGLang would load it, else prints the failure
// and exits 1; bad arguments exit 2. Used by tests/python/test_docs_serving.py on the file
// docs/serving.md's export block writes and the flags its launch block passes.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "placement/sglang_harness.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: sglang_load_check FILE NUM_HIDDEN_LAYERS FIRST_MOE_LAYER NUM_LOGICAL REDUNDANT EP_SIZE\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  grace::testing::SglangServer s;
  s.num_hidden_layers = std::atoi(argv[2]);
  for (int l = std::atoi(argv[3]); l < s.num_hidden_layers; ++l) s.moe_layer_ids.push_back(l);
  s.num_logical = std::atoi(argv[4]);
  s.ep_num_redundant_experts = std::atoi(argv[5]);
  s.ep_size = std::atoi(argv[6]);
  if (s.num_hidden_layers <= 0 || s.num_logical <= 0 || s.ep_size <= 0 || s.ep_num_redundant_experts < 0) {
    std::cerr << "bad server description\n";
    return 2;
  }
  const std::string err = grace::testing::sglang_load(argv[1], text.str(), s);
  std::cout << (err.empty() ? "ok" : err) << "\n";
  return err.empty() ? 0 : 1;
}
