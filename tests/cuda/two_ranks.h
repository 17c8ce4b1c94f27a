// Two ranks of an NCCL world for the GPU tests, on whatever GPUs the machine has:
//  - two GPUs or more: two threads of this process, rank r on GPU r;
//  - one GPU: two child processes (this test binary run again on this one test), both on GPU 0 as
//    two emulated hosts (a distinct NCCL_HOSTID each, NCCL's socket transport over loopback), as
//    tests/cuda/engine_cli_routers.sh does: NCCL refuses two ranks of one host on one GPU.
// A child runs the test up to run_two_ranks, runs its rank's body, writes what the body returned
// to a file the parent named and exits there; the parent makes the test's checks.
#ifndef GRACE_TESTS_CUDA_TWO_RANKS_H_
#define GRACE_TESTS_CUDA_TWO_RANKS_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/nccl_comm.h"

extern char** environ;

namespace grace::cuda::testing {

struct RankOutcome {
  std::string error;           // empty: the body returned
  std::vector<double> values;  // what it returned
  std::string log;             // one-GPU mode: the child's output, when something went wrong
};

// body(rank, device, id): this rank's part; what it returns comes back in RankOutcome::values.
using RankBody = std::function<std::vector<double>(int rank, int device, const NcclId& id)>;

inline constexpr const char* kTwoRanksChildEnv = "GRACE_TEST_TWO_RANKS_CHILD";

// Why two ranks cannot run here (the skip message), or "" when they can.
inline std::string two_ranks_unavailable() {
  if (!have_nccl()) return "built without NCCL: skipped";
  if (device_count() < 1) return "no CUDA GPU on this machine: skipped";
  return "";
}

inline std::string nccl_id_hex(const NcclId& id) {
  std::string s;
  char b[3];
  for (unsigned char c : id.bytes) std::snprintf(b, sizeof b, "%02x", c), s += b;
  return s;
}

inline NcclId nccl_id_from_hex(const std::string& s) {
  NcclId id{};
  for (size_t i = 0; i < sizeof id.bytes && 2 * i + 1 < s.size(); ++i)
    id.bytes[i] = static_cast<unsigned char>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return id;
}

inline void run_rank(const RankBody& body, int rank, int device, const NcclId& id, RankOutcome& out) {
  try {
    out.values = body(rank, device, id);
  } catch (const std::exception& e) {
    out.error = *e.what() ? e.what() : "exception without a message";
  }
}

inline std::array<RankOutcome, 2> run_two_ranks(const RankBody& body) {
  std::array<RankOutcome, 2> out;
  if (const char* child = std::getenv(kTwoRanksChildEnv)) {  // "<rank> <id hex> <result file>"
    std::istringstream in(child);
    int rank = 0;
    std::string hex, file;
    in >> rank >> hex >> file;
    RankOutcome& o = out[size_t(rank)];
    run_rank(body, rank, 0, nccl_id_from_hex(hex), o);
    {
      std::ofstream f(file);
      f.precision(17);
      if (o.error.empty()) {
        f << "ok\n";
        for (double v : o.values) f << v << "\n";
      } else {
        for (char& c : o.error)
          if (c == '\n') c = ' ';
        f << "error\n" << o.error << "\n";
      }
    }
    std::fflush(nullptr);
    std::_Exit(0);
  }
  if (device_count() >= 2) {
    const NcclId id = nccl_unique_id();
    std::thread t0(run_rank, std::cref(body), 0, 0, std::cref(id), std::ref(out[0]));
    std::thread t1(run_rank, std::cref(body), 1, 1, std::cref(id), std::ref(out[1]));
    t0.join();
    t1.join();
    return out;
  }
  // One GPU: two processes. The bootstrap root (this process) listens on loopback too, where NCCL
  // has not read its environment yet.
  setenv("NCCL_SOCKET_IFNAME", "lo", 0);
  const NcclId id = nccl_unique_id();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter = std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name();
  char tmpl[] = "/tmp/grace-two-ranks-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl) ? tmpl : "";
  if (dir.empty()) {
    out[0].error = out[1].error = "mkdtemp failed";
    return out;
  }
  const char* drop[] = {kTwoRanksChildEnv, "NCCL_HOSTID",        "NCCL_P2P_DISABLE",    "NCCL_SHM_DISABLE",
                        "NCCL_IB_DISABLE", "NCCL_SOCKET_IFNAME", "CUDA_VISIBLE_DEVICES"};
  pid_t pid[2] = {-1, -1};
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      bool keep = true;
      for (const char* d : drop)
        if (std::string(*e).rfind(std::string(d) + "=", 0) == 0) keep = false;
      if (keep) env.emplace_back(*e);
    }
    const std::string result = (dir / ("rank" + std::to_string(r))).string();
    env.push_back(std::string(kTwoRanksChildEnv) + "=" + std::to_string(r) + " " + nccl_id_hex(id) + " " + result);
    env.push_back("NCCL_HOSTID=grace-test-host" + std::to_string(r));
    for (const char* e : {"NCCL_P2P_DISABLE=1", "NCCL_SHM_DISABLE=1", "NCCL_IB_DISABLE=1", "NCCL_SOCKET_IFNAME=lo"})
      env.emplace_back(e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe", arg = filter;
    char* argv[] = {exe.data(), arg.data(), nullptr};
    const std::string log = result + ".log";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid[r], exe.c_str(), &fa, nullptr, argv, envp.data()) != 0) pid[r] = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  // Both must finish; a rank stuck in NCCL must not hang the test.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  int status[2] = {-1, -1};
  for (int r = 0; r < 2; ++r) {
    while (pid[r] > 0) {
      const pid_t w = waitpid(pid[r], &status[r], WNOHANG);
      if (w == pid[r]) break;
      if (std::chrono::steady_clock::now() > deadline) {
        for (int q = 0; q < 2; ++q)
          if (pid[q] > 0) kill(pid[q], SIGKILL);
        waitpid(pid[r], &status[r], 0);
        status[r] = -2;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  for (int r = 0; r < 2; ++r) {
    RankOutcome& o = out[size_t(r)];
    const std::filesystem::path result = dir / ("rank" + std::to_string(r));
    std::ifstream f(result);
    std::string line;
    if (pid[r] < 0) {
      o.error = "could not start the child process";
    } else if (!std::getline(f, line)) {
      o.error =
          status[r] == -2 ? "timed out (240 s)" : "child exited without a result, status " + std::to_string(status[r]);
    } else if (line == "ok") {
      while (std::getline(f, line)) o.values.push_back(std::strtod(line.c_str(), nullptr));  // inf, nan too
    } else {
      std::getline(f, o.error);
    }
    if (!o.error.empty()) {
      std::ifstream lf(result.string() + ".log");
      std::stringstream ss;
      ss << lf.rdbuf();
      o.log = ss.str();
      if (o.log.size() > 4000) o.log = o.log.substr(o.log.size() - 4000);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return out;
}

}  // namespace grace::cuda::testing

#endif  // GRACE_TESTS_CUDA_TWO_RANKS_H_
