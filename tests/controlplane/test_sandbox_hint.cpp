// The sandbox tour's closing lines (issue 15 item 24): they name the tour's
// own base in `sandbox down`, so that copying them never takes down the
// default sandbox, someone else's perhaps.
#include <gtest/gtest.h>

#include "sandbox/demo.hpp"

namespace rulekeeper::sandbox {
namespace {

TEST(SandboxHint, DownNamesTheToursBase) {
  const std::vector<cluster::NodeOptions> nodes = {{"e1", "e1", 31760}, {"ipc2", "e3", 31762}};
  const std::string hint = closing_hint("/tmp/rk demo", nodes);
  EXPECT_NE(hint.find("  rulectl sandbox down --base '/tmp/rk demo'"), std::string::npos) << hint;
  EXPECT_NE(hint.find("export RULECTL_CONFIG='/tmp/rk demo/rulectl.toml'"), std::string::npos) << hint;
  EXPECT_NE(hint.find("psql -h 127.0.0.1 -p 31762 -U postgres rules    # ipc2"), std::string::npos) << hint;
  EXPECT_EQ(hint.find("rulectl sandbox down   #"), std::string::npos) << hint;
}

}  // namespace
}  // namespace rulekeeper::sandbox
