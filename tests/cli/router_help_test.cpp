// Every command's --router help is generated from the router registry: each registered router
// appears with its description; an unknown --router is one error line naming the valid ones.
#include <gtest/gtest.h>

#include "cli/cli_runner.h"
#include "grace/router.h"

namespace grace {
namespace {

using testing::CliResult;
using testing::run_grace;

TEST(RouterHelp, EveryCommandListsTheRegistry) {
  for (const char* cmd : {"evaluate", "simulate", "run", "drift"}) {
    CliResult r = run_grace(std::string(cmd) + " --help");
    ASSERT_EQ(r.code, 0) << cmd << ": " << r.err;
    for (const auto& info : router_infos()) {
      EXPECT_NE(r.out.find(info.name), std::string::npos) << cmd << " lacks " << info.name;
      EXPECT_NE(r.out.find(info.description), std::string::npos) << cmd << " lacks " << info.description;
    }
  }
}

TEST(RouterHelp, UnknownRouterIsOneErrorLine) {
  CliResult r = run_grace(
      "evaluate --trace synthetic:deepseek-v2-lite:64 --placement /nonexistent.json "
      "--router no-such");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("grace: error: --router: unknown router 'no-such' (valid: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace grace
