// See server.hpp. One Session per connection, running on a strand of its
// own (so the server may run on several threads), that owns the socket and
// a queue of bytes to write. Every answer — a whole response, a stream's
// head, chunks, the last chunk — is bytes in that queue, written in order;
// the item that ends an answer says whether the connection then reads its
// next request or closes. Exchanges reach their session by posting onto its
// strand, so a handler may answer from any thread.
#include "http/server.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace rulekeeper::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// application/x-www-form-urlencoded as query strings use it ('+' is a space);
// a malformed escape stays as written.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= path.size()) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > at) out.emplace_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

std::string reason(int status) {
  const auto r = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return r.empty() ? std::string("Status") : std::string(r.data(), r.size());
}

std::string chunk(std::string_view data) { return fmt::format("{:x}\r\n{}\r\n", data.size(), data); }

const std::string kLastChunk = "0\r\n\r\n";

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

std::string Request::query_param(std::string_view name) const {
  std::size_t at = 0;
  while (at <= query.size() && !query.empty()) {
    std::size_t amp = query.find('&', at);
    if (amp == std::string::npos) amp = query.size();
    const std::string_view pair = std::string_view(query).substr(at, amp - at);
    const std::size_t eq = pair.find('=');
    const std::string key = percent_decode(pair.substr(0, eq));
    if (key == name) return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    at = amp + 1;
  }
  return "";
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

namespace {

struct Route {
  std::string method;
  std::vector<std::string> pattern;
  Handler handler;
};

class Session;
class ExchangeImpl;

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions options;
  std::vector<Route> routes;
  net::io_context ioc;
  std::optional<net::ssl::context> tls;  // set by start() when ServerOptions::tls()
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  unsigned short bound_port = 0;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions;

  explicit Impl(ServerOptions o) : options(std::move(o)) {}
  void accept();
  void add(const std::shared_ptr<Session>& s);
  void remove(const Session* s);
  std::vector<std::shared_ptr<Session>> live_sessions();
  // The route for (method, path); else 404 or 405 (with the allowed methods).
  const Route* find(const std::string& method, const std::string& path, std::map<std::string, std::string>& params,
                    int& status, std::string& allow) const;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server) : server_(std::move(server)) {
    if (server_->tls)
      tls_.emplace(std::move(socket), *server_->tls);
    else
      plain_.emplace(std::move(socket));
  }
  ~Session() { server_->remove(this); }

  void start() {
    beast::error_code ec;
    tcp_stream().socket().set_option(tcp::no_delay(true), ec);
    const auto ep = tcp_stream().socket().remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    net::dispatch(executor(), [self = shared_from_this()] {
      if (!self->tls_) return self->read_request();
      // The handshake counts as waiting for a request: a peer that never
      // finishes it is closed after the idle timeout. A plain-HTTP request
      // fails it ("http request"): the connection is closed, nothing sent.
      self->tcp_stream().expires_after(self->server_->options.idle_timeout);
      self->tls_->async_handshake(net::ssl::stream_base::server, [self](beast::error_code hec) {
        self->tcp_stream().expires_never();
        if (hec || self->state_ == State::closed) return self->shut(false);
        self->read_request();
      });
    });
  }

  // Server::stop(): an idle connection closes now; a busy one after its answer.
  void stop_gracefully() {
    net::post(executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      if (self->state_ == State::reading) self->tcp_stream().socket().cancel();
    });
  }
  void stop_now() {
    net::post(executor(), [self = shared_from_this()] { self->shut(false); });
  }

  // On the strand, from the exchange.
  void answer(const ExchangeImpl* ex, Response r);
  void stream_head(const ExchangeImpl* ex, Response head);
  void stream_chunk(const ExchangeImpl* ex, std::string data);
  void stream_end(const ExchangeImpl* ex);

  beast::tcp_stream::executor_type executor() { return tcp_stream().get_executor(); }

private:
  enum class State { reading, handling, streaming, closed };
  enum class Then { more, next_request, close };
  struct Out {
    std::string bytes;
    Then then;
  };

  void read_request();
  void on_read(beast::error_code ec);
  void dispatch_request();
  void push(std::string bytes, Then then);
  void write_front();
  void reject(int status, const std::string& message);
  void end_exchange(bool closed);
  // Closes the connection; over TLS, `notify` first sends close_notify
  // (bounded by a short timeout) so that a client reading to the end of a
  // Connection: close answer sees a clean end, not a truncation.
  void shut(bool notify = true);
  beast::tcp_stream& tcp_stream() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  // Runs f with the stream requests and answers travel on.
  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }
  Then after_answer() const { return keep_alive_ && !server_->stopping.load() ? Then::next_request : Then::close; }
  std::string serialize(const Response& r) const;

  // Exactly one of the two: the server is TLS or it is not.
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Server::Impl> server_;
  std::string remote_;
  State state_ = State::reading;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<ExchangeImpl> exchange_;
  std::deque<Out> queue_;
  bool writing_ = false;
};

class ExchangeImpl : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
public:
  ExchangeImpl(Request request, std::shared_ptr<Session> session)
      : request_(std::move(request)), session_(std::move(session)) {}

  const Request& request() const override { return request_; }

  void respond(Response response) override {
    if (answered_.exchange(true)) return;
    auto s = session();
    if (!s) return;
    net::post(s->executor(), [s, self = shared_from_this(), r = std::move(response)]() mutable {
      s->answer(self.get(), std::move(r));
    });
  }
  void start_stream(Response head) override {
    if (answered_.exchange(true)) return;
    streaming_ = true;
    auto s = session();
    if (!s) return;
    net::post(s->executor(), [s, self = shared_from_this(), r = std::move(head)]() mutable {
      s->stream_head(self.get(), std::move(r));
    });
  }
  void send(std::string data) override {
    if (!streaming_ || ended_ || data.empty()) return;  // an empty chunk would end the stream
    auto s = session();
    if (!s) return;
    net::post(s->executor(), [s, self = shared_from_this(), d = std::move(data)]() mutable {
      s->stream_chunk(self.get(), std::move(d));
    });
  }
  void end_stream() override {
    if (!streaming_ || ended_.exchange(true)) return;
    auto s = session();
    if (!s) return;
    net::post(s->executor(), [s, self = shared_from_this()] { s->stream_end(self.get()); });
  }
  bool closed() const override { return closed_.load(); }
  void on_close(std::function<void()> callback) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fired_) {
        on_close_ = std::move(callback);
        return;
      }
    }
    callback();
  }

  // From the session, on its strand: the answer is complete (closed=false)
  // or the connection ended first (closed=true). Either way the exchange lets
  // go of its session (no cycle outlives the connection).
  void finish(bool closed) {
    std::function<void()> callback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_.reset();
      if (closed) {
        closed_ = true;
        fired_ = true;
        callback = std::move(on_close_);
      }
    }
    if (callback) {
      try {
        callback();
      } catch (...) {
        // A callback's failure cannot be reported to anyone: the connection is gone.
      }
    }
  }

private:
  std::shared_ptr<Session> session() {
    std::lock_guard<std::mutex> lock(mu_);
    return session_;
  }

  Request request_;
  std::mutex mu_;
  std::shared_ptr<Session> session_;
  std::function<void()> on_close_;
  bool fired_ = false;
  std::atomic<bool> answered_{false};
  std::atomic<bool> streaming_{false};
  std::atomic<bool> ended_{false};
  std::atomic<bool> closed_{false};
};

void Session::read_request() {
  if (state_ == State::closed) return;
  if (!keep_alive_) return shut();
  state_ = State::reading;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
  parser_->body_limit(server_->options.max_body_bytes);
  tcp_stream().expires_after(server_->options.idle_timeout);
  with_stream([&](auto& stream) {
    bhttp::async_read(stream, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  });
}

void Session::on_read(beast::error_code ec) {
  tcp_stream().expires_never();
  if (state_ == State::closed) return;
  if (!ec) return dispatch_request();
  if (ec == bhttp::error::header_limit)
    return reject(431, fmt::format("request header over {} bytes\n", server_->options.max_header_bytes));
  if (ec == bhttp::error::body_limit)
    return reject(413, fmt::format("request body over {} bytes\n", server_->options.max_body_bytes));
  const bool parse_error = ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
                           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
  if (parse_error) return reject(400, fmt::format("bad request: {}\n", ec.message()));
  // The peer closed, the idle timeout, a reset, stop(): nothing to answer
  // (and nobody to say goodbye to).
  shut(false);
}

void Session::reject(int status, const std::string& message) {
  state_ = State::handling;
  keep_alive_ = false;
  Response r = Response::text(status, message);
  push(serialize(r), Then::close);
}

std::string Session::serialize(const Response& r) const {
  bhttp::response<bhttp::string_body> res;
  res.version(version_);
  res.result(static_cast<unsigned>(r.status));
  res.set(bhttp::field::server, server_->options.server_name);
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.insert(k, v);
  res.body() = r.body;
  res.keep_alive(keep_alive_ && !server_->stopping.load());
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return os.str();
}

void Session::dispatch_request() {
  auto& msg = parser_->get();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  req.version = msg.version();
  for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  req.remote = remote_;
  version_ = msg.version();
  keep_alive_ = keep_alive_ && msg.keep_alive();
  parser_.reset();
  state_ = State::handling;

  if (server_->stopping.load()) {
    keep_alive_ = false;
    return push(serialize(Response::text(503, "the server is stopping\n")), Then::close);
  }
  int status = 0;
  std::string allow;
  const Route* route = server_->find(req.method, req.path, req.params, status, allow);
  if (route == nullptr) {
    Response r = Response::text(status, status == 404 ? fmt::format("no such path: {}\n", req.path)
                                                      : fmt::format("{} is not allowed on {} (allowed: {})\n",
                                                                    req.method, req.path, allow));
    if (status == 405) r.headers.emplace_back("Allow", allow);
    return push(serialize(r), after_answer());
  }
  exchange_ = std::make_shared<ExchangeImpl>(std::move(req), shared_from_this());
  const std::shared_ptr<ExchangeImpl> ex = exchange_;
  try {
    route->handler(ex);
  } catch (const std::exception& e) {
    ex->respond(Response::text(500, fmt::format("internal error: {}\n", e.what())));
  } catch (...) {
    ex->respond(Response::text(500, "internal error\n"));
  }
}

void Session::answer(const ExchangeImpl* ex, Response r) {
  if (state_ != State::handling || exchange_.get() != ex) return;
  push(serialize(r), after_answer());
}

void Session::stream_head(const ExchangeImpl* ex, Response head) {
  if (state_ != State::handling || exchange_.get() != ex) return;
  state_ = State::streaming;
  std::string bytes = fmt::format("HTTP/1.{} {} {}\r\nServer: {}\r\nContent-Type: {}\r\n", version_ == 10 ? 0 : 1,
                                  head.status, reason(head.status), server_->options.server_name, head.content_type);
  for (const auto& [k, v] : head.headers) bytes += fmt::format("{}: {}\r\n", k, v);
  if (version_ == 10) {
    // HTTP/1.0 has no chunked encoding: the stream ends with the connection.
    keep_alive_ = false;
    bytes += "Connection: close\r\n\r\n" + head.body;
  } else {
    bytes += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive_) bytes += "Connection: close\r\n";
    bytes += "\r\n";
    if (!head.body.empty()) bytes += chunk(head.body);
  }
  push(std::move(bytes), Then::more);
}

void Session::stream_chunk(const ExchangeImpl* ex, std::string data) {
  if (state_ != State::streaming || exchange_.get() != ex) return;
  push(version_ == 10 ? std::move(data) : chunk(data), Then::more);
}

void Session::stream_end(const ExchangeImpl* ex) {
  if (state_ != State::streaming || exchange_.get() != ex) return;
  push(version_ == 10 ? std::string() : kLastChunk, version_ == 10 ? Then::close : after_answer());
}

void Session::push(std::string bytes, Then then) {
  if (state_ == State::closed) return;
  queue_.push_back({std::move(bytes), then});
  if (!writing_) write_front();
}

void Session::write_front() {
  writing_ = true;
  with_stream([&](auto& stream) {
    net::async_write(stream, net::buffer(queue_.front().bytes),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (self->state_ == State::closed) return;
                       if (ec) return self->shut(false);
                       const Then then = self->queue_.front().then;
                       self->queue_.pop_front();
                       if (then == Then::close) {
                         self->end_exchange(false);
                         return self->shut();
                       }
                       if (then == Then::next_request) {
                         self->end_exchange(false);
                         return self->read_request();
                       }
                       if (!self->queue_.empty()) self->write_front();
                     });
  });
}

void Session::end_exchange(bool closed) {
  if (!exchange_) return;
  std::shared_ptr<ExchangeImpl> ex = std::move(exchange_);
  exchange_.reset();
  ex->finish(closed);
}

void Session::shut(bool notify) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  queue_.clear();
  end_exchange(true);
  auto close = [this] {
    beast::error_code ec;
    tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_stream().close();
    server_->remove(this);
  };
  if (!tls_ || !notify || writing_) return close();
  // The session stays among the server's until the goodbye is sent, so that
  // stop() waits for it (a second at most).
  tcp_stream().expires_after(std::chrono::seconds(1));
  tls_->async_shutdown([self = shared_from_this(), close](beast::error_code) { close(); });
}

}  // namespace

void Server::Impl::add(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lock(mu);
  sessions[s.get()] = s;
}

void Server::Impl::remove(const Session* s) {
  std::lock_guard<std::mutex> lock(mu);
  if (sessions.erase(s) > 0) cv.notify_all();
}

std::vector<std::shared_ptr<Session>> Server::Impl::live_sessions() {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [k, w] : sessions)
    if (auto s = w.lock()) out.push_back(std::move(s));
  return out;
}

void Server::Impl::accept() {
  acceptor->async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor->is_open()) return;
    if (ec) {
      // Out of file descriptors (too many connections) and the like: try
      // again shortly rather than spin.
      self->accept_retry.emplace(self->ioc, std::chrono::milliseconds(50));
      self->accept_retry->async_wait([self](beast::error_code) {
        if (self->acceptor->is_open()) self->accept();
      });
      return;
    }
    if (self->stopping.load()) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      auto s = std::make_shared<Session>(std::move(socket), self);
      self->add(s);
      s->start();
    }
    self->accept();
  });
}

const Route* Server::Impl::find(const std::string& method, const std::string& path,
                                std::map<std::string, std::string>& params, int& status, std::string& allow) const {
  const std::vector<std::string> got = segments(path);
  std::vector<std::string> methods;
  for (const Route& r : routes) {
    if (r.pattern.size() != got.size()) continue;
    std::map<std::string, std::string> p;
    bool match = true;
    for (std::size_t i = 0; i < got.size() && match; ++i) {
      const std::string& want = r.pattern[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}')
        p[want.substr(1, want.size() - 2)] = percent_decode(got[i]);
      else
        match = want == got[i];
    }
    if (!match) continue;
    if (r.method == method) {
      params = std::move(p);
      return &r;
    }
    methods.push_back(r.method);
  }
  status = methods.empty() ? 404 : 405;
  for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
  return nullptr;
}

namespace {

// OpenSSL's reason for the last failure ("" when it recorded none).
std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

void load_tls(Server::Impl& s) {
  const ServerOptions& o = s.options;
  if (o.tls_certificate_file.empty() || o.tls_private_key_file.empty())
    throw std::runtime_error(
        o.tls_certificate_file.empty()
            ? fmt::format("TLS private key {} given without a certificate", o.tls_private_key_file)
            : fmt::format("TLS certificate {} given without a private key", o.tls_certificate_file));
  net::ssl::context ctx(net::ssl::context::tls_server);
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                  net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  beast::error_code ec;
  ctx.use_certificate_chain_file(o.tls_certificate_file, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot load the TLS certificate {}: {}", o.tls_certificate_file, ec.message()));
  ctx.use_private_key_file(o.tls_private_key_file, net::ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error(fmt::format("cannot load the TLS private key {} (for the certificate {}): {}",
                                         o.tls_private_key_file, o.tls_certificate_file, ec.message()));
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error(fmt::format("the TLS private key {} does not belong to the certificate {} ({})",
                                         o.tls_private_key_file, o.tls_certificate_file, openssl_reason()));
  s.tls.emplace(std::move(ctx));
}

}  // namespace

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  if (impl_->options.threads < 1) throw std::invalid_argument("an HTTP server needs at least one thread");
}

Server::~Server() {
  try {
    stop(std::chrono::seconds(1));
  } catch (...) {
    // A destructor must not throw; stop() only fails when the threads do.
  }
}

void Server::route(const std::string& method, const std::string& pattern, Handler handler) {
  if (impl_->started) throw std::logic_error("routes are added before the server starts");
  if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("a route starts with '/': " + pattern);
  impl_->routes.push_back({method, segments(pattern), std::move(handler)});
}

void Server::get(const std::string& pattern, SimpleHandler handler) {
  route("GET", pattern,
        [h = std::move(handler)](const std::shared_ptr<Exchange>& ex) { ex->respond(h(ex->request())); });
}

void Server::start() {
  Impl& s = *impl_;
  if (s.started) throw std::logic_error("the HTTP server is already started");
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(s.options.address, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: not an IP address ({})", s.options.address, s.options.port, ec.message()));
  const tcp::endpoint ep(address, s.options.port);
  if (s.options.tls()) load_tls(s);
  s.acceptor.emplace(net::make_strand(s.ioc));
  auto fail = [&](const char* what) {
    const std::string where = address.is_v6() ? fmt::format("[{}]:{}", s.options.address, s.options.port)
                                              : fmt::format("{}:{}", s.options.address, s.options.port);
    throw std::runtime_error(fmt::format("cannot listen on {}: {} ({})", where, ec.message(), what));
  };
  s.acceptor->open(ep.protocol(), ec);
  if (ec) fail("socket");
  s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("SO_REUSEADDR");
  s.acceptor->bind(ep, ec);
  if (ec) fail("bind");
  s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  s.bound_port = s.acceptor->local_endpoint().port();
  s.started = true;
  s.work.emplace(net::make_work_guard(s.ioc));
  s.accept();
  for (int i = 0; i < s.options.threads; ++i) s.threads.emplace_back([impl = impl_] { impl->ioc.run(); });
}

unsigned short Server::port() const { return impl_->bound_port; }

std::string Server::endpoint() const {
  const bool v6 = impl_->options.address.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", impl_->options.address, port())
            : fmt::format("{}:{}", impl_->options.address, port());
}

std::size_t Server::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

void Server::stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  net::post(s.acceptor->get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor->close(ec);
    if (impl->accept_retry) impl->accept_retry->cancel();
  });
  for (const auto& session : s.live_sessions()) session->stop_gracefully();
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait_for(lock, grace, [&] { return s.sessions.empty(); });
  }
  for (const auto& session : s.live_sessions()) session->stop_now();
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait_for(lock, std::chrono::seconds(2), [&] { return s.sessions.empty(); });
  }
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
  s.threads.clear();
}

std::pair<std::string, unsigned short> Server::parse_listen_address(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument(fmt::format("'{}' is not [IPv6]:PORT", text));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw std::invalid_argument(fmt::format("'{}' is not HOST:PORT (e.g. 127.0.0.1:9500)", text));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    throw std::invalid_argument(fmt::format("'{}': the port must be a number from 0 to 65535", text));
  beast::error_code ec;
  net::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument(fmt::format("'{}': '{}' is not an IP address", text, host));
  return {host, static_cast<unsigned short>(std::stoul(port))};
}

}  // namespace rulekeeper::http
