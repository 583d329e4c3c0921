// See deadline.hpp.
#include "site/deadline.hpp"

#include <sys/socket.h>

#include <fmt/format.h>

namespace rulekeeper::site {

StatementDeadline::StatementDeadline(pqxx::connection& c, std::chrono::milliseconds limit) : limit_(limit) {
  const int sock = c.sock();
  if (sock < 0) return;  // not connected: nothing to bound
  watchdog_ = std::thread([this, sock] {
    std::unique_lock<std::mutex> lock(m_);
    if (cv_.wait_for(lock, limit_, [this] { return done_; })) return;
    expired_ = true;
    // shutdown, not close: the descriptor stays libpq's until it closes it;
    // the blocked poll/recv returns at once (end of file).
    ::shutdown(sock, SHUT_RDWR);
  });
}

StatementDeadline::~StatementDeadline() {
  {
    std::lock_guard<std::mutex> lock(m_);
    done_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

bool StatementDeadline::expired() const {
  std::lock_guard<std::mutex> lock(m_);
  return expired_;
}

std::string StatementDeadline::message() const { return no_answer_message(limit_); }

std::string no_answer_message(std::chrono::milliseconds limit) {
  return fmt::format("no answer within {:.1f} s (the server or its host may be frozen)", limit.count() / 1000.0);
}

}  // namespace rulekeeper::site
