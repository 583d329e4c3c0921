// See detached.hpp.
#include "sandbox/detached.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>

namespace rulekeeper::sandbox {

std::string rulectl_binary() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("rulectl") : p.string();
}

int spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t p = ::fork();
  if (p < 0) throw std::runtime_error("fork failed");
  if (p == 0) {
    ::setsid();
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (in >= 0) ::dup2(in, 0);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return p;
}

}  // namespace rulekeeper::sandbox
