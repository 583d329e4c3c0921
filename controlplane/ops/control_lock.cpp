// See control_lock.hpp.
#include "ops/control_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::ops {

ControlLock::ControlLock(const config::Config& config, const std::string& action) {
  fs::create_directories(config.state_dir);
  const fs::path path = fs::path(config.state_dir) / "e3-control.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw common::ExitError(common::exit_failed,
                            fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    try {
      holder = common::trim(common::read_file(path));
    } catch (const std::exception&) {
    }
    ::close(fd_);
    fd_ = -1;
    throw common::ExitError(
        common::exit_refused,
        fmt::format("another failover or rejoin is running ({}); refusing to {} meanwhile (lock {})",
                    holder.empty() ? "holder unknown" : holder, action, path.string()));
  }
  const std::string me = fmt::format("rulectl {} pid {} since {}\n", action, ::getpid(), common::utc_now_text());
  if (::ftruncate(fd_, 0) == 0) {
    ssize_t n = ::pwrite(fd_, me.data(), me.size(), 0);
    (void)n;  // the holder line is for messages only
  }
}

ControlLock::~ControlLock() {
  if (fd_ < 0) return;
  if (::ftruncate(fd_, 0) != 0) {
    // nothing to do: the lock goes with the descriptor anyway
  }
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace rulekeeper::ops
