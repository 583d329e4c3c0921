// The load client of the pod gateway benchmark (bench/gateway_bench.sh,
// issue #18): N pods on ONE thread (Boost.Beast on Boost.Asio), each its own
// connection to one gateway, following a channel by Server-Sent Events
// (default) or by long polling, as docs/pods.md's protocol describes.
//
// Each pod first receives the channel's current set (its "initial" epoch:
// the SSE stream's first event with ?after=0, or the immediate answer of a
// long poll with ?after=0); once every pod has its initial set the client
// says so on stderr ("load_client: ready ...") and waits for a newer epoch.
// A pod's receipt time is taken when the bytes of the first set with a
// newer epoch are parsed, from CLOCK_REALTIME: the clock PostgreSQL's
// clock_timestamp() and commit timestamps read on this machine, so that the
// bench script can compare it with the moment ipc1 replayed the activation.
//
// When every pod has received (or failed, or --timeout passed) it says
// "load_client: done ..." on stderr and waits for --reference-file: lines
// "NAME SECONDS" (Unix time, fractions allowed), each a moment to measure
// from (e.g. "replay 1765050000.123456"). Then it prints one JSON object on
// stdout: pods, ready, received, failed, the epochs, and per reference the
// latency median/p90/p99/max/min in ms; exit 0 when every pod received, 1
// otherwise (2: usage).
//
// Why one thread: that is what the gateway itself runs on, and a client
// that needed more cores than the thing it measures would steal them from
// it on this 2-core machine.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int pods = 100;
  std::string channel = "prod";
  std::string mode = "sse";  // sse | poll
  std::string token;
  std::string pod_prefix = "bench-pod-";
  int connect_concurrency = 200;
  double timeout_s = 60;  // for the whole run after every pod is ready
  double ready_timeout_s = 120;
  std::string reference_file;
  double reference_wait_s = 60;
  std::string dump_file;
};

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The epoch of an ETag / Rulekeeper-Epoch / SSE id: digits, -1 otherwise.
std::int64_t parse_epoch(std::string_view text) {
  while (!text.empty() && (text.front() == '"' || text.front() == ' ')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '"' || text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty() || text.size() > 19) return -1;
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

class Client;

class Pod {
public:
  enum class State { idle, connecting, initial, waiting, received, failed };
  Pod(Client& client, int index, asio::io_context& io) : client_(client), index_(index), socket_(io), timer_(io) {}
  void start();
  State state() const { return state_; }
  std::int64_t initial_epoch() const { return initial_epoch_; }
  std::int64_t received_epoch() const { return received_epoch_; }
  std::int64_t receipt_ns() const { return receipt_ns_; }
  const std::string& error() const { return error_; }
  std::string id() const;

private:
  void connect();
  void send_request(std::int64_t after);
  void on_sse_header(beast::error_code ec);
  void read_sse();
  std::size_t on_sse_bytes(std::string_view body);
  void on_set(std::int64_t epoch);
  void on_poll_response(beast::error_code ec);
  void fail(const std::string& what);

  Client& client_;
  int index_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::optional<http::response_parser<http::empty_body>> sse_;
  std::optional<http::response_parser<http::string_body>> poll_;
  std::string pending_;  // SSE text not yet ended by a blank line
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_ =
      [this](std::uint64_t, beast::string_view body, beast::error_code&) {
        return on_sse_bytes(std::string_view(body.data(), body.size()));
      };
  State state_ = State::idle;
  int attempts_ = 0;
  std::int64_t initial_epoch_ = -1;
  std::int64_t received_epoch_ = -1;
  std::int64_t receipt_ns_ = 0;
  std::string error_;
};

class Client {
public:
  Client(Options options, asio::io_context& io) : options_(std::move(options)), io_(io), deadline_(io) {}

  const Options& options() const { return options_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }

  int run() {
    endpoint_ = tcp::endpoint(asio::ip::make_address(options_.host), options_.port);
    pods_.reserve(static_cast<std::size_t>(options_.pods));
    for (int i = 0; i < options_.pods; ++i) pods_.push_back(std::make_unique<Pod>(*this, i, io_));
    started_ns_ = realtime_ns();
    arm(options_.ready_timeout_s, "ready");
    for (int i = 0; i < options_.pods && i < options_.connect_concurrency; ++i) launch_next();
    io_.run();
    return finish();
  }

  // A pod has its initial set (or failed before): the next one may connect.
  void pod_settled_initial(bool ok) {
    if (ok) ++ready_;
    launch_next();
    if (!announced_ready_ && ready_ + failed_ == options_.pods) {
      announced_ready_ = true;
      std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = -1;
      for (const auto& p : pods_)
        if (p->initial_epoch() >= 0) lo = std::min(lo, p->initial_epoch()), hi = std::max(hi, p->initial_epoch());
      std::fprintf(stderr, "load_client: ready %d of %d pods (%s), initial epoch %lld..%lld, %.1f s to connect\n",
                   ready_, options_.pods, options_.mode.c_str(), static_cast<long long>(hi < 0 ? 0 : lo),
                   static_cast<long long>(hi), static_cast<double>(realtime_ns() - started_ns_) / 1e9);
      std::fflush(stderr);
      arm(options_.timeout_s, "receipt");
      check_done();
    }
  }
  void pod_received() {
    ++received_;
    check_done();
  }
  void pod_failed(bool was_ready) {
    ++failed_;
    if (!was_ready) {
      pod_settled_initial(false);
    } else {
      ++failed_after_ready_;
      check_done();
    }
  }

private:
  void launch_next() {
    if (next_ < options_.pods) pods_[static_cast<std::size_t>(next_++)]->start();
  }
  void arm(double seconds, const char* phase) {
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    deadline_.async_wait([this, phase](beast::error_code ec) {
      if (ec) return;
      std::fprintf(stderr, "load_client: timeout waiting for %s (ready %d, received %d, failed %d of %d)\n", phase,
                   ready_, received_, failed_, options_.pods);
      timed_out_ = true;
      io_.stop();
    });
  }
  // Done once no ready pod is still waiting for the newer set.
  void check_done() {
    if (!announced_ready_ || ready_ - received_ - failed_after_ready_ > 0) return;
    deadline_.cancel();
    io_.stop();
  }

  // Nearest-rank percentile of sorted values.
  static double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return std::nan("");
    std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    if (rank < 1) rank = 1;
    return sorted[std::min(rank, sorted.size()) - 1];
  }

  std::vector<std::pair<std::string, double>> read_references() {
    std::vector<std::pair<std::string, double>> refs;
    if (options_.reference_file.empty()) return refs;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<long>(options_.reference_wait_s * 1000));
    while (std::chrono::steady_clock::now() < until) {
      std::ifstream in(options_.reference_file);
      std::string line;
      std::string all;
      while (std::getline(in, line)) all += line + "\n";
      // Complete once the writer has put its "end" line (it writes, then renames).
      if (all.find("end\n") != std::string::npos) {
        std::istringstream lines(all);
        while (std::getline(lines, line)) {
          std::istringstream words(line);
          std::string name;
          double seconds = 0;
          if (words >> name >> seconds) refs.emplace_back(name, seconds);
        }
        return refs;
      }
      struct timespec ts {
        0, 10 * 1000 * 1000
      };
      nanosleep(&ts, nullptr);
    }
    std::fprintf(stderr, "load_client: no reference file %s after %.0f s\n", options_.reference_file.c_str(),
                 options_.reference_wait_s);
    return refs;
  }

  int finish() {
    std::int64_t first = 0, last = 0, epoch = -1;
    std::vector<std::int64_t> receipts;
    for (const auto& p : pods_)
      if (p->state() == Pod::State::received) {
        receipts.push_back(p->receipt_ns());
        epoch = std::max(epoch, p->received_epoch());
      }
    if (!receipts.empty()) {
      first = *std::min_element(receipts.begin(), receipts.end());
      last = *std::max_element(receipts.begin(), receipts.end());
    }
    std::fprintf(stderr, "load_client: done: received %d of %d pods, failed %d%s\n", received_, options_.pods, failed_,
                 timed_out_ ? " (timed out)" : "");
    std::fflush(stderr);
    if (!options_.dump_file.empty()) {
      std::ofstream dump(options_.dump_file);
      for (const auto& p : pods_)
        dump << p->id() << ' ' << p->initial_epoch() << ' ' << p->received_epoch() << ' ' << p->receipt_ns() << ' '
             << (p->error().empty() ? "-" : p->error()) << '\n';
    }
    std::map<std::string, std::string> errors;  // first few distinct errors, for the report
    for (const auto& p : pods_)
      if (!p->error().empty() && errors.size() < 5) errors.emplace(p->error(), p->id());
    const auto refs = read_references();

    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(3);
    out << "{\"mode\":\"" << options_.mode << "\",\"channel\":\"" << options_.channel << "\",\"pods\":" << options_.pods
        << ",\"ready\":" << ready_ << ",\"received\":" << received_ << ",\"failed\":" << failed_
        << ",\"missing\":" << (options_.pods - received_) << ",\"timed_out\":" << (timed_out_ ? "true" : "false")
        << ",\"received_epoch\":" << epoch << ",\"first_receipt\":" << std::setprecision(6)
        << static_cast<double>(first) / 1e9 << ",\"last_receipt\":" << static_cast<double>(last) / 1e9
        << std::setprecision(3) << ",\"receipt_spread_ms\":" << static_cast<double>(last - first) / 1e6
        << ",\"errors\":[";
    bool comma = false;
    for (const auto& [e, pod] : errors) {
      out << (comma ? "," : "") << "\"" << pod << ": ";
      for (char c : e) out << (c == '"' || c == '\\' ? '_' : c);
      out << "\"";
      comma = true;
    }
    out << "],\"latency_ms\":{";
    comma = false;
    for (const auto& [name, seconds] : refs) {
      const auto ref_ns = static_cast<std::int64_t>(std::llround(seconds * 1e9));
      std::vector<double> ms;
      for (auto r : receipts) ms.push_back(static_cast<double>(r - ref_ns) / 1e6);
      std::sort(ms.begin(), ms.end());
      out << (comma ? "," : "") << "\"" << name << "\":{";
      if (ms.empty()) {
        out << "\"n\":0}";
      } else {
        out << "\"n\":" << ms.size() << ",\"min\":" << ms.front() << ",\"median\":" << percentile(ms, 0.5)
            << ",\"p90\":" << percentile(ms, 0.9) << ",\"p99\":" << percentile(ms, 0.99) << ",\"max\":" << ms.back()
            << "}";
      }
      comma = true;
    }
    out << "}}";
    std::cout << out.str() << std::endl;
    return received_ == options_.pods ? 0 : 1;
  }

  Options options_;
  asio::io_context& io_;
  asio::steady_timer deadline_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Pod>> pods_;
  int next_ = 0;
  int ready_ = 0;
  int received_ = 0;
  int failed_ = 0;
  int failed_after_ready_ = 0;
  bool announced_ready_ = false;
  bool timed_out_ = false;
  std::int64_t started_ns_ = 0;
};

std::string Pod::id() const {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", index_);
  return client_.options().pod_prefix + digits;
}

void Pod::start() {
  state_ = State::connecting;
  connect();
}

void Pod::connect() {
  socket_.async_connect(client_.endpoint(), [this](beast::error_code ec) {
    if (ec) {
      // A full accept queue refuses or resets: try again a little later.
      if (++attempts_ < 20) {
        beast::error_code ignored;
        socket_.close(ignored);
        timer_.expires_after(std::chrono::milliseconds(50 * attempts_));
        timer_.async_wait([this](beast::error_code e) {
          if (!e) connect();
        });
        return;
      }
      fail("connect: " + ec.message());
      return;
    }
    state_ = State::initial;
    send_request(0);
  });
}

void Pod::send_request(std::int64_t after) {
  const auto& o = client_.options();
  request_ = {};
  request_.version(11);
  request_.method(http::verb::get);
  if (o.mode == "sse") {
    request_.target("/v1/channels/" + o.channel + "/events?after=" + std::to_string(after));
    request_.set(http::field::accept, "text/event-stream");
  } else {
    request_.target("/v1/channels/" + o.channel + "/rules?after=" + std::to_string(after) + "&wait=60s");
    request_.set(http::field::accept, "application/json");
  }
  request_.set(http::field::host, o.host + ":" + std::to_string(o.port));
  request_.set("Rulekeeper-Pod", id());
  request_.set("Rulekeeper-Pod-Labels", "bench=gateway");
  if (!o.token.empty()) request_.set(http::field::authorization, "Bearer " + o.token);
  http::async_write(socket_, request_, [this](beast::error_code ec, std::size_t) {
    if (ec) return fail("write: " + ec.message());
    if (client_.options().mode == "sse") {
      sse_.emplace();
      sse_->body_limit(std::numeric_limits<std::uint64_t>::max());
      sse_->on_chunk_body(on_chunk_);  // by reference: the member outlives the parser
      http::async_read_header(socket_, buffer_, *sse_, [this](beast::error_code e, std::size_t) { on_sse_header(e); });
    } else {
      poll_.emplace();
      poll_->body_limit(std::numeric_limits<std::uint64_t>::max());
      http::async_read(socket_, buffer_, *poll_, [this](beast::error_code e, std::size_t) { on_poll_response(e); });
    }
  });
}

void Pod::on_sse_header(beast::error_code ec) {
  if (ec) return fail("SSE header: " + ec.message());
  const auto& h = sse_->get();
  if (h.result_int() != 200) return fail("SSE status " + std::to_string(h.result_int()));
  read_sse();
}

void Pod::read_sse() {
  http::async_read_some(socket_, buffer_, *sse_, [this](beast::error_code ec, std::size_t) {
    if (ec) return fail("SSE read: " + ec.message());
    if (sse_->is_done()) return fail("SSE stream ended");
    read_sse();
  });
}

// Events end with a blank line; "id: N" names the set's epoch. Comments
// (": keepalive") and other events (stale) carry no set.
std::size_t Pod::on_sse_bytes(std::string_view body) {
  pending_.append(body.data(), body.size());
  std::size_t end;
  while ((end = pending_.find("\n\n")) != std::string::npos) {
    std::string_view event(pending_.data(), end);
    std::int64_t id = -1;
    bool rules = false;
    std::size_t pos = 0;
    while (pos < event.size()) {
      std::size_t nl = event.find('\n', pos);
      if (nl == std::string_view::npos) nl = event.size();
      std::string_view line = event.substr(pos, nl - pos);
      if (line.substr(0, 3) == "id:")
        id = parse_epoch(line.substr(3));
      else if (line.substr(0, 6) == "event:")
        rules = line.find("rules") != std::string_view::npos;
      pos = nl + 1;
    }
    pending_.erase(0, end + 2);
    if (rules && id >= 0) on_set(id);
  }
  return body.size();
}

void Pod::on_set(std::int64_t epoch) {
  if (state_ == State::initial) {
    initial_epoch_ = epoch;
    state_ = State::waiting;
    client_.pod_settled_initial(true);
  } else if (state_ == State::waiting && epoch > initial_epoch_) {
    receipt_ns_ = realtime_ns();
    received_epoch_ = epoch;
    state_ = State::received;
    client_.pod_received();
  }
}

void Pod::on_poll_response(beast::error_code ec) {
  if (ec) return fail("long poll read: " + ec.message());
  const auto& r = poll_->get();
  const int status = r.result_int();
  if (status == 304) {
    // The wait ran out with nothing newer: ask again from the same epoch.
    if (state_ == State::initial) return fail("long poll: 304 with after=0");
    return send_request(initial_epoch_);
  }
  if (status != 200) return fail("long poll status " + std::to_string(status));
  std::int64_t epoch = parse_epoch(std::string(r["Rulekeeper-Epoch"]));
  if (epoch < 0) epoch = parse_epoch(std::string(r[http::field::etag]));
  if (epoch < 0) return fail("long poll: 200 without an epoch");
  on_set(epoch);
  if (state_ == State::waiting) send_request(initial_epoch_);
  // received: the pod stops asking; the connection stays open until the end.
}

void Pod::fail(const std::string& what) {
  if (state_ == State::failed || state_ == State::received) return;
  const bool was_ready = state_ == State::waiting;
  state_ = State::failed;
  error_ = what;
  beast::error_code ignored;
  socket_.close(ignored);
  client_.pod_failed(was_ready);
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "load_client: %s\n"
               "usage: load_client --port P [--host 127.0.0.1] [--pods N] [--channel prod] [--mode sse|poll]\n"
               "       [--token T] [--pod-prefix bench-pod-] [--connect-concurrency 200] [--timeout S]\n"
               "       [--ready-timeout S] [--reference-file F] [--reference-wait S] [--dump F]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    try {
      if (a == "--host")
        o.host = value();
      else if (a == "--port")
        o.port = static_cast<unsigned short>(std::stoi(value()));
      else if (a == "--pods")
        o.pods = std::stoi(value());
      else if (a == "--channel")
        o.channel = value();
      else if (a == "--mode")
        o.mode = value();
      else if (a == "--token")
        o.token = value();
      else if (a == "--pod-prefix")
        o.pod_prefix = value();
      else if (a == "--connect-concurrency")
        o.connect_concurrency = std::stoi(value());
      else if (a == "--timeout")
        o.timeout_s = std::stod(value());
      else if (a == "--ready-timeout")
        o.ready_timeout_s = std::stod(value());
      else if (a == "--reference-file")
        o.reference_file = value();
      else if (a == "--reference-wait")
        o.reference_wait_s = std::stod(value());
      else if (a == "--dump")
        o.dump_file = value();
      else
        usage(("unknown argument " + a).c_str());
    } catch (const std::logic_error&) {
      usage(("bad value for " + a).c_str());
    }
  }
  if (o.port == 0) usage("--port is required");
  if (o.mode != "sse" && o.mode != "poll") usage("--mode is sse or poll");
  if (o.pods < 1 || o.connect_concurrency < 1) usage("--pods and --connect-concurrency are at least 1");
  raise_nofile();
  asio::io_context io(1);
  Client client(o, io);
  return client.run();
}
