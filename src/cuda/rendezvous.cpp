// The NCCL unique id through a shared folder (rendezvous_nccl_id in grace/cuda/nccl_comm.h): how
// `grace run --rendezvous DIR` starts ranks without MPI (e.g. in network namespaces).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "grace/cuda/nccl_comm.h"
#include "grace/error.h"

namespace grace::cuda {

NcclId rendezvous_nccl_id(const std::string& dir, int rank, const std::string& tag, double timeout_s) {
  namespace fs = std::filesystem;
  const std::string path = dir + "/nccl_id." + tag;
  NcclId id{};
  if (rank == 0) {
    GRACE_INPUT_CHECK(fs::is_directory(dir), "--rendezvous: '{}' is not a directory", dir);
    id = nccl_unique_id();
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(reinterpret_cast<const char*>(id.bytes), sizeof id.bytes);
      GRACE_INPUT_CHECK(bool(out), "--rendezvous: cannot write '{}'", tmp);
    }
    fs::rename(tmp, path);
    return id;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream f(path, std::ios::binary);
    if (f && f.read(reinterpret_cast<char*>(id.bytes), sizeof id.bytes)) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fail_input("--rendezvous: rank {} found no '{}' after {} s (is rank 0 running with the same folder?)", rank, path,
             timeout_s);
}

}  // namespace grace::cuda
