// See pod_client.hpp and docs/pods.md. All I/O happens on the client's one
// thread with asynchronous Beast operations driven by io_context::run_for in
// short slices, so that stop() (from another thread) is seen within a slice
// and no socket is ever touched by two threads.
#include "rulekeeper/pod_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace rulekeeper::pod {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct Url {
  std::string text;  // as configured, without a trailing '/'
  std::string host;
  std::string port;
  std::string prefix;  // "" or "/base"
};

Url parse_url(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  const std::string scheme = "http://";
  if (text.rfind(scheme, 0) != 0)
    throw std::invalid_argument("gateway URL '" + text + "': only http:// URLs are supported");
  std::string rest = text.substr(scheme.size());
  Url u;
  u.text = text;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.prefix = rest.substr(slash);
    rest.resize(slash);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find(']') != std::string::npos) {
    u.host = rest;
    u.port = "80";
  } else {
    u.host = rest.substr(0, colon);
    u.port = rest.substr(colon + 1);
  }
  if (u.host.size() > 1 && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) throw std::invalid_argument("gateway URL '" + text + "' names no host");
  if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("gateway URL '" + text + "': the port must be a number");
  return u;
}

bool valid_channel(const std::string& c) {
  if (c.empty() || c.size() > 64) return false;
  for (char ch : c)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') return false;
  return true;
}

// A transport failure: the gateway could not be reached, or went away.
struct TransportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The gateway answered with an HTTP error.
struct HttpError : std::runtime_error {
  HttpError(int s, const std::string& what) : std::runtime_error(what), status(s) {}
  int status;
};
// The gateway serves a set stale for too long while another URL exists.
struct StaleTooLong : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The gateway does not stream (an HTTP error on /events, not an event stream).
struct StreamRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string error_text(int status, const std::string& body) {
  std::string out = "HTTP " + std::to_string(status);
  try {
    const json j = json::parse(body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      out += ": " + j["error"].get<std::string>();
      if (j.contains("hint") && j["hint"].is_string() && !j["hint"].get<std::string>().empty())
        out += " (" + j["hint"].get<std::string>() + ")";
    }
  } catch (const json::exception&) {
  }
  return out;
}

// One connection to one gateway, used from one thread.
class Connection {
public:
  Connection(asio::io_context& ioc, const std::atomic<bool>* stopping) : ioc_(ioc), stopping_(stopping) {}

  void connect(const Url& u, std::chrono::milliseconds timeout) {
    close();
    stream_.emplace(ioc_);
    buffer_.clear();
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(u.host, u.port, ec);
    if (ec) throw TransportError(u.text + ": cannot resolve " + u.host + ": " + ec.message());
    ec = run([&](auto handler) { stream_->async_connect(endpoints, handler); }, timeout);
    if (ec) throw TransportError(u.text + ": cannot connect: " + describe(ec));
    url_ = u.text;
  }

  bool open() const { return stream_.has_value() && stream_->socket().is_open(); }
  const std::string& url() const { return url_; }

  void close() {
    if (!stream_) return;
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->socket().close(ignored);
    stream_.reset();
    url_.clear();
  }

  void write(const bhttp::request<bhttp::empty_body>& req, std::chrono::milliseconds timeout) {
    const auto ec = run([&](auto handler) { bhttp::async_write(*stream_, req, handler); }, timeout);
    if (ec) fail("cannot send the request", ec);
  }

  bhttp::response<bhttp::string_body> read_response(std::chrono::milliseconds timeout) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    const auto ec = run([&](auto handler) { bhttp::async_read(*stream_, buffer_, parser, handler); }, timeout);
    if (ec) fail("no answer", ec);
    return parser.release();
  }

  // The head of a streamed answer; read_some() then returns its body piece by piece.
  void read_stream_head(std::chrono::milliseconds timeout) {
    parser_.emplace();
    // No limit (a stream is endless). Not boost::none: Boost 1.74 compares
    // the length against the empty optional and reports the limit exceeded.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    const auto ec = run([&](auto handler) { bhttp::async_read_header(*stream_, buffer_, *parser_, handler); }, timeout);
    if (ec) fail("no answer", ec);
  }
  const bhttp::response_parser<bhttp::buffer_body>::value_type& stream_head() const { return parser_->get(); }

  // The next piece of the streamed body; "" with *ended = true at its end.
  std::string read_some(std::chrono::milliseconds timeout, bool* ended) {
    char piece[8192];
    auto& body = parser_->get().body();
    body.data = piece;
    body.size = sizeof piece;
    auto ec = run([&](auto handler) { bhttp::async_read_some(*stream_, buffer_, *parser_, handler); }, timeout);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) fail("the stream broke", ec);
    *ended = parser_->is_done();
    return std::string(piece, sizeof piece - body.size);
  }

private:
  static std::string describe(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    return ec.message();
  }

  [[noreturn]] void fail(const std::string& what, const beast::error_code& ec) {
    const std::string where = url_;
    close();
    throw TransportError(where + ": " + what + ": " + describe(ec));
  }

  // Starts an asynchronous operation and runs the io_context until it
  // completes; the stream's timer bounds it. Polls the stop flag between
  // slices (a stop closes the socket: the operation ends aborted).
  template <class Start>
  beast::error_code run(Start start, std::chrono::milliseconds timeout) {
    bool done = false;
    beast::error_code result;
    stream_->expires_after(timeout);
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    bool cancelled = false;
    while (!done) {
      ioc_.run_for(200ms);
      if (!done && !cancelled && stopping_ != nullptr && stopping_->load()) {
        beast::error_code ignored;
        stream_->socket().cancel(ignored);
        stream_->socket().close(ignored);
        cancelled = true;
      }
      if (ioc_.stopped()) ioc_.restart();
    }
    return result;
  }

  asio::io_context& ioc_;
  const std::atomic<bool>* stopping_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::string url_;
};

bhttp::request<bhttp::empty_body> make_request(const Url& u, const std::string& target, const std::string& pod_id,
                                               const std::string& labels, const std::string& token) {
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, u.prefix + target, 11};
  req.set(bhttp::field::host, u.host + ":" + u.port);
  req.set(bhttp::field::user_agent, "rulekeeper-podclient/0.2");
  req.set("Rulekeeper-Pod", pod_id);
  if (!labels.empty()) req.set("Rulekeeper-Pod-Labels", labels);
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  req.keep_alive(true);
  return req;
}

std::string header_of(const bhttp::fields& f, const std::string& name) {
  const auto it = f.find(name);
  return it == f.end() ? std::string() : std::string(it->value());
}

// Writes `text` to `path` so that a reader sees the old file or the new
// one, never a part: a temporary file beside it, fsync, rename, fsync of
// the directory.
void write_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot sync " + tmp.string() + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp.string() + " to " + path.string() + ": " + std::strerror(e));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

bool same_rules(const RuleSet& a, const RuleSet& b) {
  if (a.rules.size() != b.rules.size()) return false;
  for (std::size_t i = 0; i < a.rules.size(); ++i)
    if (a.rules[i].rule_key != b.rules[i].rule_key || a.rules[i].label != b.rules[i].label ||
        a.rules[i].content_sha256 != b.rules[i].content_sha256 || a.rules[i].body != b.rules[i].body)
      return false;
  return true;
}

}  // namespace

const Rule* RuleSet::find(const std::string& rule_key) const {
  for (const auto& r : rules)
    if (r.rule_key == rule_key) return &r;
  return nullptr;
}

bool valid_pod_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  return true;
}

RuleSet parse_rule_set(const std::string& text) {
  RuleSet s;
  try {
    const json j = json::parse(text);
    if (!j.is_object()) throw ProtocolError("a rule set is a JSON object");
    if (!j.contains("epoch") || !j["epoch"].is_number_integer())
      throw ProtocolError("a rule set needs an integer epoch");
    if (!j.contains("rules") || !j["rules"].is_array()) throw ProtocolError("a rule set needs a rules array");
    s.epoch = j["epoch"].get<std::int64_t>();
    s.site = j.value("site", "");
    s.node = j.value("node", "");
    s.channel = j.value("channel", "");
    s.held = j.value("held", false);
    if (j.contains("stale_seconds") && j["stale_seconds"].is_number())
      s.stale_seconds = j["stale_seconds"].get<double>();
    for (const auto& r : j["rules"]) {
      if (!r.is_object() || !r.contains("rule_key") || !r["rule_key"].is_string())
        throw ProtocolError("a rule needs a rule_key");
      Rule rule;
      rule.rule_key = r["rule_key"].get<std::string>();
      rule.label = r.contains("label") && r["label"].is_string() ? r["label"].get<std::string>() : "";
      rule.content_sha256 =
          r.contains("content_sha256") && r["content_sha256"].is_string() ? r["content_sha256"].get<std::string>() : "";
      rule.body = r.contains("body") ? r["body"].dump() : "null";
      s.rules.push_back(std::move(rule));
    }
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("not a rule set: ") + e.what());
  }
  s.json = text;
  return s;
}

struct PodClient::Impl {
  Options o;
  std::vector<Url> urls;
  std::string labels;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;  // a new set, or stopping
  std::shared_ptr<const RuleSet> current;
  std::optional<std::int64_t> delivered_epoch;  // of the last served set handed to on_rules
  Status status;
  std::string cache_problem;  // reported at start()

  std::atomic<bool> stopping{false};
  bool started = false;
  std::thread worker;
  asio::io_context ioc;

  // Worker-thread state.
  std::size_t index = 0;
  int failures_here = 0;
  int failures = 0;                 // in a row, at any URL (the backoff)
  std::set<std::size_t> no_stream;  // URLs whose /events was refused: long poll there
  std::optional<std::chrono::steady_clock::time_point> stale_since;
  mutable std::mt19937 rng{std::random_device{}()};

  void event(const std::string& what) {
    if (o.on_event) o.on_event(what);
  }

  void set_status(const std::function<void(Status&)>& f) {
    std::lock_guard<std::mutex> lock(mutex);
    f(status);
  }

  // A set served by the gateway at urls[index]: in use from now on, cached,
  // handed to on_rules when it is new.
  void accept(RuleSet s) {
    s.gateway = urls[index].text;
    s.from_cache = false;
    if (s.stale_seconds)
      stale_since =
          std::chrono::steady_clock::now() - std::chrono::milliseconds(static_cast<long>(*s.stale_seconds * 1000));
    else
      stale_since.reset();
    bool is_new;
    std::shared_ptr<const RuleSet> ptr;
    {
      std::lock_guard<std::mutex> lock(mutex);
      is_new = !current || current->from_cache || current->epoch != s.epoch || current->gateway != s.gateway ||
               !same_rules(*current, s);
      const bool stale_changed = current && current->stale_seconds.has_value() != s.stale_seconds.has_value();
      if (is_new || stale_changed) current = std::make_shared<const RuleSet>(s);
      ptr = current;
      status.epoch = current->epoch;
      status.stale = s.stale_seconds.has_value();
      status.connected = true;
      ++status.sets_received;
    }
    if (!is_new) {
      changed.notify_all();
      return;
    }
    if (!o.cache_file.empty()) {
      try {
        write_atomically(o.cache_file, s.json);
      } catch (const std::exception& e) {
        event(std::string("cache not written: ") + e.what());
      }
    }
    event("rules: epoch " + std::to_string(s.epoch) + " (" + std::to_string(s.rules.size()) + " rules) from " +
          s.gateway + (s.stale_seconds ? " (stale)" : ""));
    if (o.on_rules) o.on_rules(*ptr);
    {
      // wait_for_epoch() returns once the callback has run.
      std::lock_guard<std::mutex> lock(mutex);
      delivered_epoch = ptr->epoch;
    }
    changed.notify_all();
  }

  void check_stale() {
    if (!stale_since || urls.size() < 2) return;
    if (std::chrono::steady_clock::now() - *stale_since >= o.switch_when_stale_after)
      throw StaleTooLong(urls[index].text + ": its node has been unreachable too long (the set it serves is stale)");
  }

  void mark_stale(double seconds) {
    stale_since = std::chrono::steady_clock::now() - std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    std::shared_ptr<const RuleSet> copy;
    {
      std::lock_guard<std::mutex> lock(mutex);
      status.stale = true;
      if (current && !current->stale_seconds) {
        auto s = std::make_shared<RuleSet>(*current);
        s->stale_seconds = seconds;
        current = s;
      }
    }
    event(urls[index].text + ": its node is unreachable; serving the last set it read (stale " +
          std::to_string(seconds) + " s)");
  }

  std::int64_t epoch_from_here() const {
    std::lock_guard<std::mutex> lock(mutex);
    return current && !current->from_cache && current->gateway == urls[index].text ? current->epoch : -1;
  }

  bhttp::response<bhttp::string_body> get(Connection& c, const std::string& target, std::chrono::milliseconds timeout,
                                          const std::string& if_none_match = "") {
    const Url& u = urls[index];
    if (!c.open() || c.url() != u.text) c.connect(u, o.connect_timeout);
    auto req = make_request(u, target, o.pod_id, labels, o.token);
    req.set(bhttp::field::accept, "application/json");
    if (!if_none_match.empty()) req.set(bhttp::field::if_none_match, if_none_match);
    c.write(req, o.request_timeout);
    auto res = c.read_response(timeout);
    if (!res.keep_alive()) c.close();
    return res;
  }

  void handle_rules_answer(const bhttp::response<bhttp::string_body>& res) {
    const int st = static_cast<int>(res.result_int());
    if (st == 200) {
      accept(parse_rule_set(res.body()));
    } else if (st == 304) {
      const std::string stale = header_of(res, "Rulekeeper-Stale-Seconds");
      if (!stale.empty()) {
        try {
          if (!stale_since) mark_stale(std::stod(stale));
        } catch (const std::exception&) {
        }
      } else if (stale_since) {
        stale_since.reset();
        set_status([](Status& s) { s.stale = false; });
      }
      set_status([](Status& s) { s.connected = true; });
    } else {
      throw HttpError(st, urls[index].text + ": " + error_text(st, res.body()));
    }
  }

  std::string rules_path() const { return "/v1/channels/" + o.channel + "/rules"; }

  // The set this gateway serves now (so that a pod moved to another
  // gateway follows what that gateway's node holds).
  void fetch_current(Connection& c) {
    const std::int64_t here = epoch_from_here();
    handle_rules_answer(
        get(c, rules_path(), o.request_timeout, here >= 0 ? "\"" + std::to_string(here) + "\"" : std::string()));
    check_stale();
  }

  void long_poll(Connection& c) {
    set_status([](Status& s) { s.streaming = false; });
    while (!stopping) {
      const std::int64_t after = epoch_from_here();
      const std::string target =
          rules_path() + "?after=" + std::to_string(after) + "&wait=" + std::to_string(o.long_poll_wait.count()) + "ms";
      handle_rules_answer(get(c, target, o.long_poll_wait + o.request_timeout, "\"" + std::to_string(after) + "\""));
      failures_here = 0;
      set_status([](Status& s) { s.consecutive_failures = 0; });
      check_stale();
    }
  }

  void dispatch_sse(const std::string& name, const std::string& data) {
    if (name == "rules" || name.empty()) {
      accept(parse_rule_set(data));
    } else if (name == "stale") {
      double seconds = 0;
      try {
        const json j = json::parse(data);
        if (j.contains("stale_seconds") && j["stale_seconds"].is_number()) seconds = j["stale_seconds"].get<double>();
      } catch (const json::exception&) {
      }
      mark_stale(seconds);
    }
  }

  void stream(Connection& c) {
    const Url& u = urls[index];
    c.close();  // a connection of its own: the stream holds it
    c.connect(u, o.connect_timeout);
    auto req = make_request(u, "/v1/channels/" + o.channel + "/events?after=" + std::to_string(epoch_from_here()),
                            o.pod_id, labels, o.token);
    req.set(bhttp::field::accept, "text/event-stream");
    req.set(bhttp::field::cache_control, "no-cache");
    c.write(req, o.request_timeout);
    c.read_stream_head(o.request_timeout);
    const auto& head = c.stream_head();
    const int st = static_cast<int>(head.result_int());
    const std::string type = header_of(head, "Content-Type");
    if (st != 200 || type.rfind("text/event-stream", 0) != 0) {
      c.close();
      if (st == 400 || st == 401)  // the pod's own mistake: the same on every path
        throw HttpError(st, u.text + ": HTTP " + std::to_string(st) + " on the event stream");
      throw StreamRefused(u.text + ": no event stream (HTTP " + std::to_string(st) + ", " +
                          (type.empty() ? "no content type" : type) + ")");
    }
    set_status([](Status& s) {
      s.streaming = true;
      s.connected = true;
      s.consecutive_failures = 0;
    });
    failures_here = 0;
    event(u.text + ": following the event stream");
    std::string pending;
    std::string name, data;
    bool has_data = false;
    while (!stopping) {
      bool ended = false;
      pending += c.read_some(o.stream_idle_timeout, &ended);
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          if (has_data) dispatch_sse(name, data);
          name.clear();
          data.clear();
          has_data = false;
          continue;
        }
        if (line[0] == ':') continue;  // a keepalive comment
        const auto colon = line.find(':');
        std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "event") {
          name = value;
        } else if (field == "data") {
          if (has_data) data += "\n";
          data += value;
          has_data = true;
        }
      }
      check_stale();
      if (ended) {
        c.close();
        throw TransportError(u.text + ": the gateway ended the event stream");
      }
    }
  }

  void session(Connection& c) {
    fetch_current(c);
    failures = 0;
    failures_here = 0;
    set_status([](Status& s) { s.consecutive_failures = 0; });
    if (o.mode == Mode::stream && no_stream.count(index) == 0) {
      try {
        stream(c);
        return;
      } catch (const StreamRefused& e) {
        no_stream.insert(index);
        event(std::string(e.what()) + "; long polling there instead");
      }
    }
    long_poll(c);
  }

  std::chrono::milliseconds backoff(int n) const {
    double ms = static_cast<double>(o.initial_backoff.count());
    for (int i = 1; i < n && ms < static_cast<double>(o.max_backoff.count()); ++i) ms *= 2;
    ms = std::min(ms, static_cast<double>(o.max_backoff.count()));
    std::uniform_real_distribution<double> jitter(0.8, 1.2);  // pods restarted together spread out
    return std::chrono::milliseconds(static_cast<long>(ms * jitter(rng)));
  }

  void run() {
    Connection c(ioc, &stopping);
    while (!stopping) {
      bool move_on = false;
      std::string error;
      try {
        set_status([&](Status& s) { s.gateway = urls[index].text; });
        session(c);
        continue;  // stopping
      } catch (const StaleTooLong& e) {
        error = e.what();
        move_on = true;
      } catch (const HttpError& e) {
        error = e.what();
        move_on = e.status >= 500 || e.status == 401 || e.status == 404;
      } catch (const std::exception& e) {
        error = e.what();
      }
      c.close();
      if (stopping) break;
      ++failures;
      ++failures_here;
      stale_since.reset();
      // A gateway that failed twice in a row (a restart is one failure),
      // or says its node is long gone: the next URL.
      if (urls.size() > 1 && (move_on || failures_here >= 2)) {
        index = (index + 1) % urls.size();
        failures_here = 0;
        set_status([](Status& s) { ++s.switches; });
        event(error + "; switching to " + urls[index].text);
      } else {
        event(error);
      }
      set_status([&](Status& s) {
        s.connected = false;
        s.streaming = false;
        s.consecutive_failures = failures;
        s.last_error = error;
      });
      const auto wait = backoff(failures);
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait_for(lock, wait, [&] { return stopping.load(); });
    }
    c.close();
  }
};

PodClient::PodClient(Options options) : impl_(std::make_shared<Impl>()) {
  Impl& i = *impl_;
  i.o = std::move(options);
  if (i.o.gateways.empty()) throw std::invalid_argument("no gateway URL");
  for (const auto& g : i.o.gateways) i.urls.push_back(parse_url(g));
  if (!valid_pod_id(i.o.pod_id))
    throw std::invalid_argument("pod id '" + i.o.pod_id + "': 1-128 characters of A-Z a-z 0-9 . _ : -");
  if (!valid_channel(i.o.channel)) throw std::invalid_argument("channel '" + i.o.channel + "' is not a channel name");
  if (i.o.long_poll_wait > std::chrono::seconds(60) || i.o.long_poll_wait < std::chrono::milliseconds(1))
    throw std::invalid_argument("long_poll_wait must be between 1 ms and 60 s (the gateway's limit)");
  for (const auto& [k, v] : i.o.labels) {
    if (k.empty() || k.find_first_of("=,") != std::string::npos || v.find_first_of("=,") != std::string::npos)
      throw std::invalid_argument("pod label '" + k + "=" + v + "': no '=' or ',' inside a name or value");
    i.labels += (i.labels.empty() ? "" : ",") + k + "=" + v;
  }
  if (!i.o.cache_file.empty() && std::filesystem::exists(i.o.cache_file)) {
    try {
      std::ifstream in(i.o.cache_file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      auto s = parse_rule_set(text.str());
      if (s.channel != i.o.channel && !s.channel.empty())
        throw ProtocolError("it holds channel " + s.channel + ", not " + i.o.channel);
      s.from_cache = true;
      i.current = std::make_shared<const RuleSet>(std::move(s));
      i.status.epoch = i.current->epoch;
      i.status.stale = true;
    } catch (const std::exception& e) {
      i.cache_problem = "cache file " + i.o.cache_file.string() + " ignored: " + e.what();
    }
  }
}

PodClient::~PodClient() { stop(); }

void PodClient::start() {
  Impl& i = *impl_;
  if (i.started) return;
  i.started = true;
  std::shared_ptr<Impl> impl = impl_;
  i.worker = std::thread([impl] {
    if (!impl->cache_problem.empty()) impl->event(impl->cache_problem);
    std::shared_ptr<const RuleSet> cached;
    {
      std::lock_guard<std::mutex> lock(impl->mutex);
      cached = impl->current;
    }
    if (cached) {
      impl->event("rules: epoch " + std::to_string(cached->epoch) + " from the cache file (until a gateway answers)");
      if (impl->o.on_rules) impl->o.on_rules(*cached);
    }
    impl->run();
  });
}

void PodClient::stop() {
  Impl& i = *impl_;
  i.stopping = true;
  asio::post(i.ioc, [] {});  // wakes a run_for slice
  i.changed.notify_all();
  if (i.worker.joinable()) i.worker.join();
}

std::shared_ptr<const RuleSet> PodClient::current() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->current;
}

bool PodClient::wait_for_epoch(std::int64_t epoch, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    return impl_->delivered_epoch && *impl_->delivered_epoch >= epoch && impl_->current && !impl_->current->from_cache;
  });
}

Status PodClient::status() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->status;
}

RuleSet fetch_rules(const std::string& gateway, const std::string& channel, const std::string& pod_id,
                    const std::string& token, std::chrono::milliseconds timeout) {
  if (!valid_pod_id(pod_id)) throw std::invalid_argument("pod id '" + pod_id + "': 1-128 of A-Z a-z 0-9 . _ : -");
  if (!valid_channel(channel)) throw std::invalid_argument("channel '" + channel + "' is not a channel name");
  const Url u = parse_url(gateway);
  asio::io_context ioc;
  Connection c(ioc, nullptr);
  try {
    c.connect(u, timeout);
    auto req = make_request(u, "/v1/channels/" + channel + "/rules", pod_id, "", token);
    req.set(bhttp::field::accept, "application/json");
    c.write(req, timeout);
    auto res = c.read_response(timeout);
    c.close();
    const int st = static_cast<int>(res.result_int());
    if (st != 200) throw ProtocolError(u.text + ": " + error_text(st, res.body()));
    RuleSet s = parse_rule_set(res.body());
    s.gateway = u.text;
    return s;
  } catch (const TransportError& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace rulekeeper::pod
