// rulectl.toml: the naming rules that keep a site argument unambiguous.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

#include "site/config.hpp"

namespace rulekeeper::config {
namespace {

namespace fs = std::filesystem;

class ConfigFile : public ::testing::Test {
protected:
  fs::path path = fs::temp_directory_path() / ("rk-config-" + std::to_string(::getpid()) + ".toml");
  void TearDown() override { fs::remove(path); }
  std::string load_error(const std::string& text) {
    std::ofstream(path) << text;
    try {
      load(path.string());
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(ConfigFile, ASiteMayNotBeCalledE3) {
  const std::string err = load_error("[sites.e3]\nconninfo = \"port=1\"\nenvironment = \"e3\"\n");
  EXPECT_NE(err.find("sites.e3"), std::string::npos) << err;
  EXPECT_NE(err.find("a site may not be called e3"), std::string::npos) << err;
}

TEST_F(ConfigFile, ASiteCalledLikeAnEnvironmentBelongsToIt) {
  std::string err = load_error("[sites.e2]\nconninfo = \"port=1\"\nenvironment = \"e1\"\n");
  EXPECT_NE(err.find("sites.e2.environment"), std::string::npos) << err;
  EXPECT_NE(err.find("must be in it"), std::string::npos) << err;
  // The sandbox's own names are fine.
  err = load_error(
      "[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e1\"\n"
      "[sites.e2]\nconninfo = \"port=2\"\nenvironment = \"e2\"\n"
      "[sites.ipc2]\nconninfo = \"port=3\"\nenvironment = \"e3\"\n");
  EXPECT_EQ(err, "");
}

TEST_F(ConfigFile, UnknownEnvironmentIsNamed) {
  const std::string err = load_error("[sites.x]\nconninfo = \"port=1\"\nenvironment = \"e4\"\n");
  EXPECT_NE(err.find("'e4' is not one of e1, e2, e3"), std::string::npos) << err;
}

}  // namespace
}  // namespace rulekeeper::config
