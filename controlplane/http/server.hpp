// The one HTTP/1.1 server of rulectl (issue #17 item 4; the pod gateway of
// issue #18 and the admin portal of issue #19 build on it): Boost.Beast on
// Boost.Asio, asynchronous — every connection is a few hundred bytes of
// state and no thread, so one thread holds thousands of idle keep-alive
// connections and long polls. Knows nothing of rulekeeper: no SQL, no
// config; a route table of handlers.
//
// A handler gets the request as an Exchange and answers it at once, later
// from any thread (a long poll: keep the shared_ptr, call respond() when the
// news comes), or as a stream (Server-Sent Events: start_stream(), send()
// as often as needed, end_stream()). A connection reads its next request
// only after the current one is answered (HTTP/1.1 keep-alive, requests in
// order); while a handler holds an exchange no timer runs on it.
//
// What the server answers itself: 404 (no route for the path), 405 with
// Allow (the path exists, not for this method), 400 (a request Beast cannot
// parse; the connection is closed), 431 / 413 (header / body over the
// limit), 500 (a handler threw), 503 (stopping). stop() is graceful: it
// stops accepting, closes idle connections at once, lets answers in flight
// finish (each then closes its connection) and closes whatever is left when
// the grace period ends; open exchanges learn it through on_close().
//
// TLS (issue #18): with ServerOptions' certificate and private key set,
// every connection is TLS (1.2 or newer; Boost.Asio's ssl on OpenSSL): the
// handshake runs under the idle timeout, a client speaking plain HTTP to
// the port gets its connection closed (no bytes it could mistake for an
// answer), and the rest — routes, exchanges, streams — is the same.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rulekeeper::http {

struct Request {
  std::string method;  // "GET", as sent
  std::string target;  // "/v1/pods?x=1", as sent
  std::string path;    // target before '?'
  std::string query;   // target after '?' ("" when none)
  unsigned version = 11;
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;
  std::map<std::string, std::string> params;  // {name} segments of the route
  std::string remote;                         // "127.0.0.1:41234"

  // The first header of that name (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  // The first query parameter of that name, percent-decoded; "" when absent.
  std::string query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // added as given
  std::string body;

  static Response text(int status, std::string body);
};

class Exchange {
public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  // Answers the request (once; later calls are ignored). Any thread.
  virtual void respond(Response response) = 0;
  // A streamed answer: the status and headers at once, with chunked
  // transfer encoding (response.body, if any, is the first chunk); then
  // send() each piece as it comes, in order; end_stream() ends the answer
  // and the connection goes on with its next request. Any thread.
  virtual void start_stream(Response head) = 0;
  virtual void send(std::string chunk) = 0;
  virtual void end_stream() = 0;
  // True once the connection is gone (the peer closed it, a write failed,
  // the server stopped): answers are dropped from then on.
  virtual bool closed() const = 0;
  // Called once, on the server's thread, when the connection ends before
  // this exchange was answered or its stream ended (set it right away; a
  // callback set after the end runs at once).
  virtual void on_close(std::function<void()> callback) = 0;
};

using Handler = std::function<void(const std::shared_ptr<Exchange>&)>;
using SimpleHandler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";  // loopback unless told otherwise
  unsigned short port = 0;            // 0: any free port (port() says which)
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  // A connection waiting for (the rest of) a request is closed after this.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  int threads = 1;
  std::string server_name = "rulectl";
  // PEM files; both set: TLS on every connection; both empty: plain HTTP;
  // one without the other is refused by start(). The certificate file may
  // hold the chain (leaf first).
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  bool tls() const { return !tls_certificate_file.empty() || !tls_private_key_file.empty(); }
};

class Server {
public:
  explicit Server(ServerOptions options);
  ~Server();  // stop() with a short grace
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes, before start(). A pattern is a path whose segments are literal
  // or "{name}" (one segment, in Request::params): "/v1/channels/{channel}/rules".
  void route(const std::string& method, const std::string& pattern, Handler handler);
  void get(const std::string& pattern, SimpleHandler handler);

  // Binds, listens and starts the threads. Throws std::runtime_error naming
  // the address when it cannot listen there (in use, not an address here),
  // or naming the file when the TLS certificate or key cannot be loaded (or
  // do not belong together).
  void start();
  unsigned short port() const;
  std::string endpoint() const;  // "127.0.0.1:56200"
  std::size_t open_connections() const;

  // Graceful stop (see above); idempotent; waits until every thread ended.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // "host:port" (or "[v6]:port") into its parts; throws std::invalid_argument
  // with the reason for anything else (a missing or out-of-range port).
  static std::pair<std::string, unsigned short> parse_listen_address(const std::string& text);

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rulekeeper::http
