// The sandbox's pod gateways (issue #18 item 5): `sandbox up` starts one
// `rulectl gateway --node NAME` per E3 node (ipc2, ipc2b when made, ipc1) as
// a detached daemon with its pid file and log under <base>/gateways/, and
// `sandbox down` stops them (before the nodes). Only with the extension (a
// gateway serves what the extension keeps). Their ports follow the
// sandbox's others: after PostgreSQL's +0..+4 at +5 (ipc2), +6 (ipc2b), +7
// (ipc1); with --ha patroni (Patroni REST +5..+7, etcd +8/+9) at +10, +11,
// +12. The admin portal (issue #19, sandbox/portal.*) takes the port after
// the gateways' (+8, with Patroni +13). Record both in tests/ports.txt.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/output.hpp"

namespace rulekeeper::sandbox::gateways {

// The last port offset a gateway uses (the port-base range check of `up`).
constexpr int last_port_offset(bool under_patroni) { return under_patroni ? 12 : 7; }

// Whether `site` is an E3 node of the sandbox (it gets a gateway).
bool has_gateway(const std::string& site);
// Its port and base URL ("http://127.0.0.1:54318") for a sandbox made with `port_base`.
int port(int port_base, bool under_patroni, const std::string& site);
std::string url(int port_base, bool under_patroni, const std::string& site);

// Starts the gateway of each of `sites` that does not run (rulectl
// gateway --node SITE --config CONFIG, this very binary) and waits until
// each answers /healthz (200 or 503: listening). Throws with the end of the
// gateway's log when one does not; the ones it started are stopped then.
void start(const std::filesystem::path& base, const std::filesystem::path& config, int port_base, bool under_patroni,
           const std::vector<std::string>& sites, const common::ProgressSink& progress);

// Stops every gateway of the sandbox at `base` (SIGTERM, SIGKILL after 10 s)
// and waits until each is gone. Nothing to do when none runs.
void stop(const std::filesystem::path& base, const common::ProgressSink& progress);

// The process id of the gateway of `site` at `base`, 0 when it does not run.
int pid(const std::filesystem::path& base, const std::string& site);

}  // namespace rulekeeper::sandbox::gateways
