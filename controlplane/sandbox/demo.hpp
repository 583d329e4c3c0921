// The sandbox tour (`rulectl sandbox demo`), see demo.cpp.
#pragma once

#include <filesystem>
#include <vector>

#include "sandbox/cluster.hpp"

namespace rulekeeper::sandbox {

// Runs the tour on a freshly made sandbox at `base` whose nodes are `nodes`.
int run_demo(const std::filesystem::path& base, cluster::ClusterOptions cluster_options,
             const std::vector<cluster::NodeOptions>& nodes);

}  // namespace rulekeeper::sandbox
