// See node.hpp.
#include "ops/node.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "pgnode/local_node.hpp"
#include "pgnode/node_control.hpp"
#include "pgnode/postmaster.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::ops {

std::string node_standby(const NodeStandbyRequest& request) {
  if (!fs::exists(fs::path(request.pgdata) / "PG_VERSION"))
    throw common::ExitError(common::exit_usage,
                            fmt::format("{} is not a PostgreSQL data directory (no PG_VERSION)", request.pgdata));
  if (int pid = pgnode::postmaster_pid(request.pgdata); pid != 0)
    throw common::ExitError(common::exit_refused,
                            fmt::format("the postmaster of {} runs (PID {}): stop it first; nothing was changed",
                                        request.pgdata, pid));
  pgnode::LocalNode node;
  node.name = request.pgdata;
  node.pgdata = request.pgdata;
  node.conf_file = request.conf_file;
  return pgnode::make_standby(node, request.primary_conninfo, request.slot_name, {});
}

}  // namespace rulekeeper::ops
