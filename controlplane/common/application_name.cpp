#include "common/application_name.hpp"

namespace rulekeeper::common {
namespace {
std::string& current() {
  static std::string name = "rulectl";
  return name;
}
}  // namespace

void set_application_name(std::string name) { current() = std::move(name); }
const std::string& application_name() { return current(); }

}  // namespace rulekeeper::common
