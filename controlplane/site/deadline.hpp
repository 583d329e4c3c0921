// A client-side deadline on a connection's statements (issue #14 item 2).
// A frozen server (SIGSTOP'd postmaster or backend, a hung host, a stalled
// disk) never answers: statement_timeout is enforced by the backend that is
// frozen, and a cancel request goes to a postmaster that may be frozen too
// (libpq 15's PQcancel then blocks). So rulectl bounds the wait itself: when
// the deadline passes, the connection's socket is shut down, which ends the
// blocked read at once with a broken connection. The connection is lost
// (the caller drops it); whatever the statement did is decided by the
// server, as for any lost connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <pqxx/pqxx>

namespace rulekeeper::site {

// The deadline for one check of a site (one statement or a few short ones)
// when the caller has no deadline of its own.
constexpr std::chrono::milliseconds kStatementDeadline{5000};

class StatementDeadline {
public:
  // Armed from now; disarmed by the destructor.
  StatementDeadline(pqxx::connection& c, std::chrono::milliseconds limit);
  ~StatementDeadline();
  StatementDeadline(const StatementDeadline&) = delete;
  StatementDeadline& operator=(const StatementDeadline&) = delete;

  // The deadline passed and the connection was cut.
  bool expired() const;
  std::chrono::milliseconds limit() const { return limit_; }
  // "no answer within 2.0 s (the server or its host may be frozen)".
  std::string message() const;

private:
  std::chrono::milliseconds limit_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  bool expired_ = false;
  std::thread watchdog_;
};

// "no answer within 2.0 s (the server or its host may be frozen)".
std::string no_answer_message(std::chrono::milliseconds limit);

}  // namespace rulekeeper::site
