// controlplane/http/client.*: the small synchronous client rulectl uses for
// Patroni's REST API (and `rulectl pods` for the gateways), against the
// project's own server on a loopback port the kernel picks (port 0): URL
// parsing and its refusals, the method, path and JSON body as sent, any
// status returned (never thrown), a refused connection and a server that
// never answers both Unreachable within the timeout.
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.hpp"
#include "http/server.hpp"

namespace {

namespace http = rulekeeper::http;
using namespace std::chrono_literals;

TEST(HttpClientUrl, HostPortAndPrefix) {
  const http::Url u = http::parse_url("http://127.0.0.1:8008");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8008");
  EXPECT_EQ(u.path_prefix, "");
  const http::Url p = http::parse_url("http://patroni.example:8008/api/");
  EXPECT_EQ(p.host, "patroni.example");
  EXPECT_EQ(p.path_prefix, "/api");
  EXPECT_EQ(http::parse_url("http://patroni.example").port, "80");
}

TEST(HttpClientUrl, RefusesWhatItCannotSpeak) {
  EXPECT_THROW(http::parse_url("https://127.0.0.1:8008"), std::invalid_argument);
  EXPECT_THROW(http::parse_url("127.0.0.1:8008"), std::invalid_argument);
  EXPECT_THROW(http::parse_url("http://"), std::invalid_argument);
}

class HttpClientExchange : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<http::Server>(http::ServerOptions{});
    server_->route("PATCH", "/config", [this](const std::shared_ptr<http::Exchange>& ex) {
      const http::Request& r = ex->request();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen_ = r.method + " " + r.target + " " + r.header("Content-Type") + " " + r.body;
      }
      http::Response out;
      out.content_type = "application/json";
      out.body = R"({"stored": true})";
      ex->respond(out);
    });
    server_->get("/missing-member", [](const http::Request&) { return http::Response::text(503, "no leader"); });
    // Holds every exchange and never answers: the client's timeout must end it.
    server_->route("GET", "/hang", [this](const std::shared_ptr<http::Exchange>& ex) {
      std::lock_guard<std::mutex> lock(mutex_);
      held_.push_back(ex);
    });
    server_->start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->stop(1s);
    held_.clear();
  }
  std::string seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::mutex mutex_;
  std::string seen_;
  std::vector<std::shared_ptr<http::Exchange>> held_;
};

TEST_F(HttpClientExchange, SendsMethodPathAndJsonBody) {
  const http::Reply r = http::request("PATCH", base_, "/config?x=1", R"({"pause": true})");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, R"({"stored": true})");
  EXPECT_EQ(seen(), R"(PATCH /config?x=1 application/json {"pause": true})");
}

TEST_F(HttpClientExchange, AnErrorStatusIsReturnedNotThrown) {
  const http::Reply r = http::get(base_, "/missing-member");
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.body, "no leader");
  EXPECT_EQ(http::get(base_, "/nothing-here").status, 404);
}

TEST_F(HttpClientExchange, ServerThatNeverAnswersIsUnreachableAfterTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(http::get(base_, "/hang", 300ms), http::Unreachable);
  // Bounded by the timeout, not by the server: far below the 60 s the
  // server would hold the exchange.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST(HttpClientTransport, RefusedConnectionIsUnreachable) {
  unsigned short port = 0;
  {
    http::Server s{http::ServerOptions{}};
    s.get("/", [](const http::Request&) { return http::Response::text(200, "ok"); });
    s.start();
    port = s.port();
    s.stop(1s);
  }
  try {
    http::get("http://127.0.0.1:" + std::to_string(port), "/", 2s);
    FAIL() << "a closed port answered";
  } catch (const http::Unreachable& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos) << e.what();
  }
}

}  // namespace
