// See client.hpp. One connection per request: Patroni's API is asked a few
// times per verb, and a fresh connection never inherits a half-read reply.
#include "http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <fmt/format.h>

namespace rulekeeper::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

Url parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0)
    throw std::invalid_argument(fmt::format("'{}': https is not supported (plain http on a management network)", url));
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument(fmt::format("'{}' is not an http:// URL", url));
  std::string rest = url.substr(scheme.size());
  Url out;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    out.path_prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  }
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) {
    out.host = rest.substr(0, colon);
    out.port = rest.substr(colon + 1);
  } else {
    out.host = rest;
  }
  if (out.host.empty()) throw std::invalid_argument(fmt::format("'{}' names no host", url));
  if (out.port.empty() || out.port.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument(fmt::format("'{}': the port must be a number", url));
  return out;
}

Reply request(const std::string& method, const std::string& base_url, const std::string& path, const std::string& body,
              std::chrono::milliseconds timeout, const std::vector<std::pair<std::string, std::string>>& headers) {
  const Url u = parse_url(base_url);
  const bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) throw std::invalid_argument("unknown HTTP method " + method);
  const std::string target = u.path_prefix + path;
  // Asynchronous operations on one io_context run here: beast::tcp_stream's
  // expiry bounds only asynchronous operations (a synchronous connect to a
  // host that drops SYNs, or a read from a server that never answers, would
  // wait for the kernel — minutes — or for ever).
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  tcp::resolver resolver(ioc);
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, u.host);
  req.set(bhttp::field::user_agent, "rulectl");
  req.set(bhttp::field::accept, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code failure;
  bool done = false;
  const auto fail = [&](beast::error_code ec) { failure = ec; };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail(ec);
    stream.expires_at(deadline);
    stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return fail(ec);
      bhttp::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) return fail(ec);
        bhttp::async_read(stream, buffer, res, [&](beast::error_code ec, std::size_t) {
          if (ec) return fail(ec);
          done = true;
        });
      });
    });
  });
  // The resolver has no expiry of its own: run_for bounds it too.
  ioc.run_for(timeout + std::chrono::milliseconds(100));
  if (!done) {
    const std::string why = failure ? failure.message() : "no answer within the timeout";
    throw Unreachable(fmt::format("{} {}{}: {} ({} ms)", method, base_url, path, why, timeout.count()));
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);  // the peer may have closed first
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace rulekeeper::http
