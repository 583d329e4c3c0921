// controlplane/http/server.* over TLS (issue #18: the pod gateway and the
// admin portal serve HTTPS when given a certificate and a key). The test
// makes a self-signed certificate for 127.0.0.1 with the openssl CLI, starts
// the server with it and talks to it with a TLS client on Boost.Asio's ssl
// that verifies the certificate: a GET and a keep-alive second request, a
// chunked stream, a Connection: close answer that ends with close_notify (a
// clean end, not a truncation), a plain-HTTP request to the TLS port closed
// without an answer (and the server still serving TLS after it), and start()
// refusing a key without a certificate, a missing file, a key of another
// certificate. Ports: http_tls_unit in tests/ports.txt.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>

#include "http/server.hpp"
#include "ports.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using rulekeeper::http::Exchange;
using rulekeeper::http::Response;
using rulekeeper::http::Server;
using rulekeeper::http::ServerOptions;
namespace ports = rulekeeper::testing::ports;

constexpr int kPort = ports::http_tls_unit[0];

// A temporary folder with a self-signed certificate and key for 127.0.0.1
// (and a second pair, to pair a key with the wrong certificate).
class Certificates {
public:
  Certificates() {
    char pattern[] = "/tmp/rulekeeper-tls-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    make("a");
    make("b");
  }
  ~Certificates() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string cert(const std::string& name = "a") const { return (dir_ / (name + ".crt")).string(); }
  std::string key(const std::string& name = "a") const { return (dir_ / (name + ".key")).string(); }

private:
  void make(const std::string& name) {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
        key(name) + "' -out '" + cert(name) + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed: " + cmd);
  }
  fs::path dir_;
};

ServerOptions tls_options(const Certificates& c) {
  ServerOptions o;
  o.port = static_cast<unsigned short>(kPort);
  o.tls_certificate_file = c.cert();
  o.tls_private_key_file = c.key();
  return o;
}

// A verifying TLS client on one connection.
class TlsClient {
public:
  explicit TlsClient(const std::string& ca_file) : ssl_(net::ssl::context::tls_client), stream_(ioc_, ssl_) {
    ssl_.load_verify_file(ca_file);
    stream_.set_verify_mode(net::ssl::verify_peer);
    stream_.set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(kPort)));
    stream_.handshake(net::ssl::stream_base::client);
  }
  bhttp::response<bhttp::string_body> get(const std::string& target, bool close = false) {
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    if (close) req.keep_alive(false);
    bhttp::write(stream_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream_, buffer_, res);
    return res;
  }
  // What the next read finds once the server has ended the connection.
  beast::error_code read_end() {
    char byte;
    beast::error_code ec;
    stream_.read_some(net::buffer(&byte, 1), ec);
    return ec;
  }

private:
  net::io_context ioc_;
  net::ssl::context ssl_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

TEST(HttpTls, GetKeepAliveAndStreamOverTls) {
  Certificates certs;
  Server server(tls_options(certs));
  server.get("/hello/{who}", [](const auto& req) { return Response::text(200, "hello " + req.params.at("who")); });
  server.route("GET", "/stream", [](const std::shared_ptr<Exchange>& ex) {
    Response head;
    head.content_type = "text/event-stream";
    ex->start_stream(head);
    ex->send("data: one\n\n");
    ex->send("data: two\n\n");
    ex->end_stream();
  });
  server.start();

  TlsClient client(certs.cert());
  auto first = client.get("/hello/pod");
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(first.body(), "hello pod");
  EXPECT_TRUE(first.keep_alive());
  // The same TLS connection answers again.
  auto second = client.get("/hello/again");
  EXPECT_EQ(second.body(), "hello again");
  auto stream = client.get("/stream");
  EXPECT_EQ(stream.result_int(), 200);
  EXPECT_EQ(stream.body(), "data: one\n\ndata: two\n\n");
  EXPECT_EQ(client.get("/nothing").result_int(), 404);
  EXPECT_EQ(server.open_connections(), 1u);
}

TEST(HttpTls, ConnectionCloseEndsWithCloseNotify) {
  Certificates certs;
  Server server(tls_options(certs));
  server.get("/x", [](const auto&) { return Response::text(200, "x"); });
  server.start();
  TlsClient client(certs.cert());
  auto res = client.get("/x", true);
  EXPECT_EQ(res.body(), "x");
  EXPECT_FALSE(res.keep_alive());
  // A TLS close (close_notify) reads as a clean end of stream; a bare TCP
  // close would read as "stream truncated".
  const beast::error_code end = client.read_end();
  EXPECT_EQ(end, net::error::eof) << end.message();
}

TEST(HttpTls, PlainHttpToTheTlsPortIsClosedWithoutAnAnswer) {
  Certificates certs;
  Server server(tls_options(certs));
  server.get("/x", [](const auto&) { return Response::text(200, "secret"); });
  server.start();

  net::io_context ioc;
  tcp::socket plain(ioc);
  plain.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(kPort)));
  const std::string request = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
  net::write(plain, net::buffer(request));
  std::string got;
  char data[4096];
  beast::error_code ec;
  for (;;) {
    const std::size_t n = plain.read_some(net::buffer(data), ec);
    if (ec) break;
    got.append(data, n);
  }
  // The server closed the connection: no HTTP answer, nothing of the body.
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_EQ(got.rfind("HTTP/", 0), std::string::npos) << got;
  EXPECT_EQ(got.find("secret"), std::string::npos);

  // And the server goes on serving TLS.
  TlsClient client(certs.cert());
  EXPECT_EQ(client.get("/x").body(), "secret");
}

TEST(HttpTls, StartRefusesIncompleteOrMismatchedFiles) {
  Certificates certs;
  ServerOptions key_only = tls_options(certs);
  key_only.tls_certificate_file.clear();
  try {
    Server(key_only).start();
    FAIL() << "a key without a certificate was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("without a certificate"), std::string::npos) << e.what();
  }

  ServerOptions missing = tls_options(certs);
  missing.tls_certificate_file = certs.cert() + ".missing";
  try {
    Server(missing).start();
    FAIL() << "a missing certificate file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.tls_certificate_file), std::string::npos) << e.what();
  }

  ServerOptions mismatched = tls_options(certs);
  mismatched.tls_private_key_file = certs.key("b");
  try {
    Server(mismatched).start();
    FAIL() << "a key of another certificate was accepted";
  } catch (const std::runtime_error& e) {
    // OpenSSL 3 refuses it while loading ("key values mismatch"); older
    // ones at the check after.
    const std::string what = e.what();
    EXPECT_NE(what.find(mismatched.tls_private_key_file), std::string::npos) << what;
    EXPECT_TRUE(what.find("mismatch") != std::string::npos || what.find("does not belong") != std::string::npos)
        << what;
  }
}

}  // namespace
