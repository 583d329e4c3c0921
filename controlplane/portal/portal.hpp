// `rulectl portal` (issue #19): the admin portal — server-rendered pages on
// the one HTTP stack (http/server.hpp), each also JSON at the same path
// with `Accept: application/json`. A layer above ops/ like cli/: every page
// reads through the same ops functions as the CLI, every change is the
// CLI's operation, and a refusal is shown with the CLI's words (the
// message and hint of common::ExitError, as `rulectl --json` reports them).
//
// Who may do what is PostgreSQL's decision: the login form takes a
// PostgreSQL user and password and the portal connects to each site as that
// user (sessions.hpp); it has no roles of its own. Sessions: random ids in
// the cookie rulekeeper_session (HttpOnly, SameSite=Strict, Path=/, Secure
// with TLS), an idle timeout, a CSRF token in every state-changing form
// (POST only; missing or wrong: 403). The paths and element names are a
// contract with the browser tests (docs/portal.md, tests/browser/).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "site/config.hpp"

namespace rulekeeper::portal {

struct PortalOptions {
  std::string listen = "127.0.0.1:8480";  // [portal] listen
  std::string tls_certificate;            // PEM files; both or neither
  std::string tls_private_key;
  std::chrono::milliseconds session_idle{std::chrono::minutes(30)};
  int threads = 4;  // pages wait on sites (a site down costs a connect timeout)
};

class Portal {
public:
  Portal(config::Config config, PortalOptions options);
  ~Portal();
  Portal(const Portal&) = delete;
  Portal& operator=(const Portal&) = delete;

  // Listens (throws std::runtime_error naming the address when it cannot).
  void start();
  std::string endpoint() const;  // "127.0.0.1:8480"
  std::string url() const;       // "http://127.0.0.1:8480" (https with TLS)
  void stop();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rulekeeper::portal
