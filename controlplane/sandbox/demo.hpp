// The sandbox tour (`rulectl sandbox demo`), see demo.cpp.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/cluster.hpp"

namespace rulekeeper::sandbox {

// Runs the tour on a freshly made sandbox at `base` whose nodes are `nodes`.
// With `under_patroni` (a sandbox made with --ha patroni), IPC2's failure is
// told in two steps — Patroni fails over inside IPC2, then all of IPC2 is
// lost — and failover/rejoin go through Patroni (docs/failover.md "With
// Patroni").
int run_demo(const std::filesystem::path& base, cluster::ClusterOptions cluster_options,
             const std::vector<cluster::NodeOptions>& nodes, bool under_patroni = false);

// The tour's closing lines: how to explore the sandbox at `base`, and how to
// take it down — with its own --base, never a bare `sandbox down` that would
// go for the default directory, someone else's sandbox perhaps (issue 15
// item 24).
std::string closing_hint(const std::filesystem::path& base, const std::vector<cluster::NodeOptions>& nodes);

}  // namespace rulekeeper::sandbox
