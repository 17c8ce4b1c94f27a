// grace trace import-sglang: SGLang expert-distribution recorder dumps (.pt, torch pickles) to
// a grace trace or load profile. The work is done by the Python package (torch reads the
// dumps): this command runs `python3 -m grace.sglang import ...` in its place (exec), with the
// build tree's package first on PYTHONPATH. Its errors are grace's: one line, exit code 2.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "grace/error.h"

#ifndef GRACE_PYTHON_DIR
#define GRACE_PYTHON_DIR ""
#endif
#ifndef GRACE_PYTHON_EXECUTABLE
#define GRACE_PYTHON_EXECUTABLE "python3"
#endif

namespace grace::cli {
namespace {

struct ImportArgs {
  std::vector<std::string> dumps;
  std::string out;
  std::string model;
};

void run_import(const ImportArgs& a) {
  // GRACE_PYTHON overrides the interpreter; the build tree's package dir goes first on the path.
  const char* env_py = std::getenv("GRACE_PYTHON");
  const std::string python = env_py && *env_py ? env_py : GRACE_PYTHON_EXECUTABLE;
  std::string path = GRACE_PYTHON_DIR;
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path = path.empty() ? old : path + ":" + old;
  if (!path.empty()) setenv("PYTHONPATH", path.c_str(), 1);
  // "--out=VALUE", "--model=VALUE" and "--" before the dumps: an output or a model named "-o2" or
  // "-h", or a dump named "-x.pt", is passed as a name, never read as an option.
  std::vector<std::string> args = {python, "-m", "grace.sglang", "import", "--out=" + a.out};
  if (!a.model.empty()) args.push_back("--model=" + a.model);
  args.push_back("--");
  args.insert(args.end(), a.dumps.begin(), a.dumps.end());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  execvp(argv[0], argv.data());
  fail_input("trace import-sglang: cannot run '{}': {} (the import needs Python 3 with numpy and torch)", python,
             std::strerror(errno));
}

}  // namespace

void add_trace_import_command(CLI::App& trace) {
  auto args = std::make_shared<ImportArgs>();
  auto* c = trace.add_subcommand(
      "import-sglang",
      "Import SGLang expert-distribution recorder dumps (.pt): per_token dumps become a grace trace "
      "(DIR/topk_ids.npy, seq_offsets.npy: logical ids, dense layers and -1 padding dropped); stat and "
      "per_pass dumps become a load profile (DIR/loads.npy, profile.json) for load-only planners. "
      "Runs python3 -m grace.sglang (needs numpy and torch)");
  c->add_option("dumps", args->dumps, "expert_distribution_recorder_*.pt files")->required();
  c->add_option(
       "-o,--out", args->out,
       "Output folder, written whole: a trace (topk_ids.npy, seq_offsets.npy, import.json) or a load profile "
       "(loads.npy, profile.json); an existing one is replaced only when it holds nothing but an import's own files")
      ->required();
  c->add_option("--model", args->model, "Model preset or JSON: checks the shapes and gives the dense layers");
  c->callback([args] { run_import(*args); });
}

}  // namespace grace::cli
