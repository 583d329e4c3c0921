#include "common/time.hpp"

#include <ctime>

#include <fmt/format.h>

namespace rulekeeper::common {
namespace {

struct Parts {
  std::tm tm{};
  long long ms = 0;
};

Parts split(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  Parts p;
  const auto since = at.time_since_epoch();
  std::time_t t = system_clock::to_time_t(time_point_cast<seconds>(at));
  long long ms = duration_cast<milliseconds>(since).count() % 1000;
  if (ms < 0) {  // before 1970: to_time_t truncated towards zero
    ms += 1000;
    t -= 1;
  }
  ::gmtime_r(&t, &p.tm);
  p.ms = ms;
  return p;
}

}  // namespace

std::string rfc3339_utc(std::chrono::system_clock::time_point at) {
  const Parts p = split(at);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.tm.tm_year + 1900, p.tm.tm_mon + 1,
                     p.tm.tm_mday, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.ms);
}

std::string utc_now_text() { return rfc3339_utc(std::chrono::system_clock::now()); }

std::string utc_now_compact() {
  const Parts p = split(std::chrono::system_clock::now());
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z", p.tm.tm_year + 1900, p.tm.tm_mon + 1, p.tm.tm_mday,
                     p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.ms);
}

}  // namespace rulekeeper::common
