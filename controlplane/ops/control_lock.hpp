// The lock that keeps two failovers or rejoins from running at once:
// flock(2) on <state_dir>/e3-control.lock, taken without waiting — a second
// one while one runs is refused (exit 3) naming the holder.
#pragma once

#include <string>

#include "site/config.hpp"

namespace rulekeeper::ops {

class ControlLock {
public:
  ControlLock(const config::Config& config, const std::string& action);
  ~ControlLock();
  ControlLock(const ControlLock&) = delete;
  ControlLock& operator=(const ControlLock&) = delete;

private:
  int fd_ = -1;
};

}  // namespace rulekeeper::ops
