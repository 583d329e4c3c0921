// Bounded polling, once: every wait of rulectl and of the cluster fixture
// (a postmaster to be gone, a standby to replay past an LSN, a slot to
// stream) asks a question every `every` until it says yes or `timeout`
// passes: no wait without a bound, and each names what it waited for.
#pragma once

#include <chrono>
#include <exception>
#include <string>
#include <thread>

namespace rulekeeper::common {

// Polls `ready` until true or `timeout` passes; returns whether it became
// true. An exception from `ready` counts as "not yet"; its message is kept
// in `last_error` (when given) for the caller's timeout message.
template <class F>
bool poll_until(std::chrono::milliseconds timeout, std::chrono::milliseconds every, F&& ready,
                std::string* last_error = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (ready()) return true;
      if (last_error) last_error->clear();
    } catch (const std::exception& e) {
      if (last_error) *last_error = e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace rulekeeper::common
