// The daemons `sandbox up` starts beside its servers (the pod gateways, the
// portal) are this rulectl binary run detached: one way to start them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rulekeeper::sandbox {

// This very binary (/proc/self/exe), "rulectl" if it cannot be read.
std::string rulectl_binary();

// fork + exec argv[0] detached: its own session (a Ctrl-C of the shell that
// ran `sandbox up` does not reach it), stdin /dev/null, output appended to
// `log`. Returns the child's pid; throws std::runtime_error if fork fails.
int spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log);

}  // namespace rulekeeper::sandbox
