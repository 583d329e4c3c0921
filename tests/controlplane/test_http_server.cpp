// controlplane/http/server.*: the one asynchronous HTTP/1.1 server (issue
// #17 item 4; the pod gateway and the portal reuse it). Real sockets on
// loopback, a raw TCP client so that malformed requests can be sent: routes
// and path parameters, 404/405/400/431/500, keep-alive and Connection:
// close, an answer given later from another thread while other connections
// are served on the server's one thread, a chunked stream, many idle
// connections on one thread, and the graceful stop. Plus the Prometheus
// text writer (http/prometheus.*). Ports: http_server_unit in tests/ports.txt.
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "http/prometheus.hpp"
#include "http/server.hpp"
#include "ports.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using rulekeeper::http::Exchange;
using rulekeeper::http::Request;
using rulekeeper::http::Response;
using rulekeeper::http::Server;
using rulekeeper::http::ServerOptions;
namespace ports = rulekeeper::testing::ports;

// A blocking client on one connection: writes bytes, reads one response
// (status line, headers, a Content-Length or chunked body) or up to EOF.
class Client {
public:
  explicit Client(int port) : socket_(ctx_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  void write(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  struct Reply {
    int status = 0;
    std::string head;
    std::string body;
    bool ok = false;
  };
  // One response; ok=false when the connection ended before a whole one.
  Reply read_response() {
    Reply r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    const std::string lower = lowered(r.head);
    const std::size_t cl = lower.find("content-length: ");
    if (cl != std::string::npos) {
      const std::size_t n = std::stoul(lower.substr(cl + 16));
      while (buf_.size() < n)
        if (!fill()) return r;
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!fill()) return r;
        const std::size_t n = std::stoul(buf_.substr(0, eol), nullptr, 16);
        while (buf_.size() < eol + 2 + n + 2)
          if (!fill()) return r;
        r.body += buf_.substr(eol + 2, n);
        buf_.erase(0, eol + 2 + n + 2);
        if (n == 0) break;
      }
    }
    r.ok = true;
    return r;
  }
  // Reads until `needle` arrived (false: the connection ended first).
  bool read_until(const std::string& needle) {
    while (buf_.find(needle) == std::string::npos)
      if (!fill()) return false;
    return true;
  }
  // True when the server closed the connection (EOF, nothing more).
  bool closed_by_server() {
    socket_.non_blocking(false);
    return !fill() && buf_.empty();
  }
  std::string get(const std::string& path, const std::string& extra = "") {
    write("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n");
    return read_response().body;
  }

private:
  static std::string lowered(std::string s) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
  }
  bool fill() {
    char data[4096];
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(net::buffer(data), ec);
    if (ec || n == 0) return false;
    buf_.append(data, n);
    return true;
  }
  net::io_context ctx_;
  tcp::socket socket_;
  std::string buf_;
};

ServerOptions options(int port) {
  ServerOptions o;
  o.port = static_cast<unsigned short>(port);
  return o;
}

constexpr int kPort = ports::http_server_unit[0];

TEST(HttpServer, RoutesParamsAndQuery) {
  Server s(options(kPort));
  s.get("/hello", [](const Request&) { return Response::text(200, "hi\n"); });
  s.get("/v1/channels/{channel}/rules", [](const Request& r) {
    return Response::text(200, r.params.at("channel") + "|" + r.query_param("after") + "|" + r.query_param("w") + "|" +
                                   r.header("rulekeeper-pod"));
  });
  s.start();
  EXPECT_EQ(s.port(), kPort);
  EXPECT_EQ(s.endpoint(), "127.0.0.1:" + std::to_string(kPort));
  Client c(kPort);
  c.write("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  Client::Reply r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi\n");
  EXPECT_NE(r.head.find("Server: rulectl"), std::string::npos) << r.head;
  EXPECT_EQ(c.get("/v1/channels/prod/rules?after=42&w=a%20b+c", "Rulekeeper-Pod: pod-7\r\n"), "prod|42|a b c|pod-7");
  EXPECT_EQ(c.get("/v1/channels/s%6C/rules"), "sl|||");
}

TEST(HttpServer, NotFoundMethodNotAllowedAndHandlerErrors) {
  Server s(options(kPort));
  s.get("/metrics", [](const Request&) { return Response::text(200, "m"); });
  s.route("POST", "/boom", [](const std::shared_ptr<Exchange>&) { throw std::runtime_error("kaput"); });
  s.start();
  Client c(kPort);
  c.write("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
  Client::Reply r = c.read_response();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no such path: /nothing\n");
  c.write("DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.head.find("Allow: GET"), std::string::npos) << r.head;
  c.write("POST /boom HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error: kaput\n");
  // The connection survived all three.
  EXPECT_EQ(c.get("/metrics"), "m");
}

TEST(HttpServer, BadRequestIs400AndCloses) {
  Server s(options(kPort));
  s.get("/metrics", [](const Request&) { return Response::text(200, "m"); });
  s.start();
  {
    Client c(kPort);
    c.write("THIS IS NOT HTTP\r\n\r\n");
    Client::Reply r = c.read_response();
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body.rfind("bad request: ", 0), 0u) << r.body;
    EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << r.head;
    EXPECT_TRUE(c.closed_by_server());
  }
  {
    Client c(kPort);
    c.write("GET /metrics HTTP/1.1\r\nHost: t\r\nX: " + std::string(10000, 'a') + "\r\n\r\n");
    Client::Reply r = c.read_response();
    EXPECT_EQ(r.status, 431);
    EXPECT_TRUE(c.closed_by_server());
  }
  // The server goes on serving others.
  Client c(kPort);
  EXPECT_EQ(c.get("/metrics"), "m");
}

TEST(HttpServer, KeepAliveUntilConnectionClose) {
  Server s(options(kPort));
  std::atomic<int> n{0};
  s.get("/n", [&](const Request&) { return Response::text(200, std::to_string(++n)); });
  s.start();
  Client c(kPort);
  // Two requests sent at once (pipelined) and one more: answered in order, one connection.
  c.write("GET /n HTTP/1.1\r\nHost: t\r\n\r\nGET /n HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "1");
  EXPECT_EQ(c.read_response().body, "2");
  EXPECT_EQ(s.open_connections(), 1u);
  c.write("GET /n HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  Client::Reply r = c.read_response();
  EXPECT_EQ(r.body, "3");
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << r.head;
  EXPECT_TRUE(c.closed_by_server());
  // HTTP/1.0 without keep-alive closes too.
  Client old(kPort);
  old.write("GET /n HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.read_response().body, "4");
  EXPECT_TRUE(old.closed_by_server());
}

// A long poll: the handler keeps the exchange and another thread answers
// it later; meanwhile the server's one thread serves other connections.
TEST(HttpServer, AnswerLaterFromAnotherThread) {
  Server s(options(kPort));
  std::promise<std::shared_ptr<Exchange>> held;
  s.route("GET", "/wait", [&](const std::shared_ptr<Exchange>& ex) { held.set_value(ex); });
  s.get("/now", [](const Request&) { return Response::text(200, "now"); });
  s.start();
  Client waiting(kPort);
  waiting.write("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
  std::shared_ptr<Exchange> ex = held.get_future().get();
  Client other(kPort);
  EXPECT_EQ(other.get("/now"), "now");
  std::thread([ex] {
    Response r = Response::text(200, "news");
    r.headers.emplace_back("ETag", "\"7\"");
    ex->respond(r);
    ex->respond(Response::text(200, "a second answer is ignored"));
  }).join();
  Client::Reply r = waiting.read_response();
  EXPECT_EQ(r.body, "news");
  EXPECT_NE(r.head.find("ETag: \"7\""), std::string::npos) << r.head;
  EXPECT_EQ(waiting.get("/now"), "now");
}

TEST(HttpServer, ChunkedStreamThenNextRequest) {
  Server s(options(kPort));
  std::promise<std::shared_ptr<Exchange>> held;
  s.route("GET", "/events", [&](const std::shared_ptr<Exchange>& ex) {
    Response head;
    head.content_type = "text/event-stream";
    head.body = "data: first\n\n";
    ex->start_stream(head);
    held.set_value(ex);
  });
  s.get("/now", [](const Request&) { return Response::text(200, "now"); });
  s.start();
  Client c(kPort);
  c.write("GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
  std::shared_ptr<Exchange> ex = held.get_future().get();
  ASSERT_TRUE(c.read_until("data: first"));  // before the stream ends
  ex->send("data: second\n\n");
  ASSERT_TRUE(c.read_until("data: second"));
  ex->end_stream();
  ex->send("after the end: dropped");
  Client::Reply r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_NE(r.head.find("Transfer-Encoding: chunked"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Content-Type: text/event-stream"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "data: first\n\ndata: second\n\n");
  EXPECT_EQ(c.get("/now"), "now");
}

// Many idle keep-alive connections on one server thread, each answered
// afterwards: the async design holds them without a thread each.
TEST(HttpServer, ManyIdleConnectionsOnOneThread) {
  ServerOptions o = options(kPort);
  o.threads = 1;
  Server s(o);
  s.get("/n", [](const Request&) { return Response::text(200, "ok"); });
  s.start();
  constexpr int kConnections = 400;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kConnections; ++i) clients.push_back(std::make_unique<Client>(kPort));
  for (int i = 0; i < 200 && s.open_connections() < kConnections; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.open_connections(), static_cast<std::size_t>(kConnections));
  int ok = 0;
  for (auto& c : clients) ok += c->get("/n") == "ok";
  EXPECT_EQ(ok, kConnections);
}

// stop(): idle connections close at once, an answer in flight still goes
// out (with Connection: close), an exchange nobody answers learns it through
// on_close when the grace ends, and nothing listens afterwards.
TEST(HttpServer, GracefulStop) {
  auto s = std::make_unique<Server>(options(kPort));
  std::promise<std::shared_ptr<Exchange>> slow_held, never_held;
  std::promise<void> closed;
  s->route("GET", "/slow", [&](const std::shared_ptr<Exchange>& ex) { slow_held.set_value(ex); });
  s->route("GET", "/never", [&](const std::shared_ptr<Exchange>& ex) {
    ex->on_close([&] { closed.set_value(); });
    never_held.set_value(ex);
  });
  s->get("/n", [](const Request&) { return Response::text(200, "ok"); });
  s->start();
  Client idle(kPort);
  EXPECT_EQ(idle.get("/n"), "ok");
  Client slow(kPort);
  slow.write("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  std::shared_ptr<Exchange> slow_ex = slow_held.get_future().get();
  Client never(kPort);
  never.write("GET /never HTTP/1.1\r\nHost: t\r\n\r\n");
  std::shared_ptr<Exchange> never_ex = never_held.get_future().get();

  auto stopped = std::async(std::launch::async, [&] { s->stop(std::chrono::milliseconds(1500)); });
  EXPECT_TRUE(idle.closed_by_server());  // at once, not after the grace
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  slow_ex->respond(Response::text(200, "late but answered"));
  Client::Reply r = slow.read_response();
  EXPECT_EQ(r.body, "late but answered");
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << r.head;
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_EQ(closed.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(never_ex->closed());
  EXPECT_TRUE(never.closed_by_server());
  stopped.get();
  EXPECT_EQ(s->open_connections(), 0u);
  never_ex->respond(Response::text(200, "too late: dropped"));
  boost::system::error_code ec;
  net::io_context ctx;
  tcp::socket probe(ctx);
  probe.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), kPort), ec);
  EXPECT_TRUE(ec) << "something still listens on the port after stop()";
  s.reset();
}

TEST(HttpServer, ListenErrorsNameTheAddress) {
  Server first(options(kPort));
  first.start();
  Server second(options(kPort));
  try {
    second.start();
    FAIL() << "a second server bound the same port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(kPort)), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(Server::parse_listen_address("127.0.0.1:9500"),
            std::make_pair(std::string("127.0.0.1"), static_cast<unsigned short>(9500)));
  EXPECT_EQ(Server::parse_listen_address("[::1]:80").first, "::1");
  for (const char* bad : {"9500", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "localhost:80", "1.2.3.4:x"})
    EXPECT_THROW(Server::parse_listen_address(bad), std::invalid_argument) << bad;
}

TEST(PrometheusText, FamiliesSamplesEscapingAndNaN) {
  rulekeeper::http::MetricsText m;
  m.family("rk_lag", "gauge", "Lag\\n with a backslash \\ and a\nnewline");
  m.sample({{"standby", "ipc1"}, {"note", "a \"quoted\" \\ value\nx"}}, 3);
  m.sample({{"standby", "ipc2b"}}, std::nullopt);
  m.family("rk_checks", "counter", "Checks").sample({}, 4294967297.0, "_total").sample({}, 0.25);
  EXPECT_EQ(m.text(),
            "# HELP rk_lag Lag\\\\n with a backslash \\\\ and a\\nnewline\n"
            "# TYPE rk_lag gauge\n"
            "rk_lag{standby=\"ipc1\",note=\"a \\\"quoted\\\" \\\\ value\\nx\"} 3\n"
            "rk_lag{standby=\"ipc2b\"} NaN\n"
            "# HELP rk_checks Checks\n# TYPE rk_checks counter\n"
            "rk_checks_total 4294967297\nrk_checks 0.25\n");
  EXPECT_THROW(m.family("bad-name", "gauge", "x"), std::invalid_argument);
  EXPECT_EQ(rulekeeper::http::format_sample_value(std::nan("")), "NaN");
  EXPECT_EQ(rulekeeper::http::format_sample_value(-1.0 / 0.0), "-Inf");
}

}  // namespace
