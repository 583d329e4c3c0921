// The sandbox's admin portal (issue #19 item 4): `sandbox up` starts
// `rulectl portal` (this very binary) as a detached daemon with its pid file
// and log under <base>/portal/, listening on 127.0.0.1 at the port after
// the pod gateways' (tests/ports.txt sandbox_default: +8; with --ha patroni
// +13), and creates three sandbox-only logins with passwords at the E3
// primary — portal_reader (rulekeeper_reader), portal_releaser
// (rulekeeper_releaser), portal_hotfix (rulekeeper_hotfix), each password
// its name — members of sandbox_password_login, whose logins the
// sandbox's pg_hba.conf checks by password (scram-sha-256; every other
// login trusts loopback, sandbox/cluster.cpp). `sandbox down` stops it.
// Never for production: the passwords are printed and documented.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/output.hpp"

namespace rulekeeper::sandbox::portal {

constexpr int port_offset(bool under_patroni) { return under_patroni ? 13 : 8; }

struct Login {
  const char* user;
  const char* password;
  const char* role;
};
// The sandbox's portal logins (documented, sandbox only).
const std::vector<Login>& logins();

// Creates the logins where missing (at the writable E3 site of `config`),
// starts the portal unless it runs and waits until it answers GET /login.
// Returns its URL. Throws with the end of its log when it does not answer.
std::string start(const std::filesystem::path& base, const std::filesystem::path& config, int port_base,
                  bool under_patroni, const common::ProgressSink& progress);

// Stops the portal of the sandbox at `base` (SIGTERM, SIGKILL after 10 s).
void stop(const std::filesystem::path& base, const common::ProgressSink& progress);

// The URL of the running portal of the sandbox at `base` ("" when none).
std::string url(const std::filesystem::path& base);

// The lines the sandbox and the tour print: address, logins, pages.
std::string hint(const std::filesystem::path& base);

}  // namespace rulekeeper::sandbox::portal
