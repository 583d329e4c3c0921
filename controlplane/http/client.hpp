// A small synchronous HTTP/1.1 client (Boost.Beast, the one HTTP stack of
// rulectl: docs/design/architecture.md "The control plane") for JSON APIs
// such as Patroni's REST API. Plain http only: the APIs it talks to listen
// on loopback or a management network. No SQL here, nothing of Patroni's
// meaning either: callers (ops/) decide what a status or a body means.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rulekeeper::http {

struct Url {
  std::string host;
  std::string port = "80";
  std::string path_prefix;  // "" or "/base" (no trailing slash)
};

// "http://127.0.0.1:8008" or "http://host:port/prefix"; throws
// std::invalid_argument naming what is wrong (https is not supported).
Url parse_url(const std::string& url);

struct Response {
  int status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

// The server could not be reached, or did not answer within the timeout.
class Unreachable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// One request on a fresh connection; the whole exchange (resolve, connect,
// write, read) is bounded by `timeout`. Any HTTP status is returned; only
// transport failures throw Unreachable. `body` is sent as application/json
// when not empty.
// `headers` are added as given (e.g. Authorization for the pod gateway).
Response request(const std::string& method, const std::string& base_url, const std::string& path,
                 const std::string& body = "", std::chrono::milliseconds timeout = std::chrono::seconds(5),
                 const std::vector<std::pair<std::string, std::string>>& headers = {});

inline Response get(const std::string& base_url, const std::string& path,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return request("GET", base_url, path, "", timeout);
}

}  // namespace rulekeeper::http
