// An in-process Comm for a world of one rank (no MPI): alltoallv copies the self block, the
// reductions are identities. Counts its exchanges (the node comm from split shares the count).
#ifndef GRACE_TESTS_ENGINE_LOOPBACK_COMM_H_
#define GRACE_TESTS_ENGINE_LOOPBACK_COMM_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "grace/engine/comm.h"

namespace grace::engine::testing {

class LoopbackComm : public Comm {
 public:
  std::string_view name() const override { return "loopback"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::unique_ptr<Comm> split(int, int) override {
    auto sub = std::make_unique<LoopbackComm>();
    sub->exchanges_ = exchanges_;  // count the node comm's exchanges too
    return sub;
  }
  void exchange_counts(const int64_t* s, int64_t* r) override { r[0] = s[0]; }
  void alltoallv(const void* s, const int64_t* sc, const int64_t* so, void* r, const int64_t* rc,
                 const int64_t* ro) override {
    EXPECT_EQ(sc[0], rc[0]);
    if (sc[0]) std::memcpy(static_cast<char*>(r) + ro[0], static_cast<const char*>(s) + so[0], size_t(sc[0]));
    ++*exchanges_;
  }
  void allreduce_sum(double*, int) override {}
  void allreduce_max(double*, int) override {}
  void allreduce_sum(int64_t*, int) override {}
  void allreduce_max(int64_t*, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
  int exchanges() const { return *exchanges_; }

 private:
  std::shared_ptr<int> exchanges_ = std::make_shared<int>(0);
};

}  // namespace grace::engine::testing

#endif  // GRACE_TESTS_ENGINE_LOOPBACK_COMM_H_
