// See rejoin_wal.hpp.
#include "ops/rejoin_wal.hpp"

#include <cstdio>
#include <sstream>

#include <fmt/format.h>

#include "common/text.hpp"
#include "pgnode/process.hpp"
#include "pgnode/tools.hpp"
#include "site/client/wal_position.hpp"

namespace rulekeeper::ops {

namespace {

std::string segment_name(long long timeline, std::uint64_t segno, long long segment_size) {
  const std::uint64_t per_id = 0x100000000ULL / static_cast<std::uint64_t>(segment_size);
  char name[32];
  std::snprintf(name, sizeof name, "%08llX%08llX%08llX", static_cast<unsigned long long>(timeline),
                static_cast<unsigned long long>(segno / per_id), static_cast<unsigned long long>(segno % per_id));
  return name;
}

}  // namespace

WalForRejoin wal_for_rejoin(pqxx::connection& primary, const std::string& primary_name, long long primary_timeline,
                            long long node_timeline, const std::optional<site::client::PhysicalSlot>& slot,
                            const std::string& slot_name) {
  namespace client = site::client;
  WalForRejoin w;
  if (slot && slot->wal_status && *slot->wal_status == "lost") {
    w.checked = true;
    w.available = false;
    w.cause = fmt::format("slot '{}' at {} lost the WAL it reserved (wal_status lost: max_slot_wal_keep_size)",
                          slot_name, primary_name);
  }
  if (primary_timeline <= node_timeline) {
    if (!w.checked)
      w.note = fmt::format("{} is on timeline {}, the node on {}: no fork to check", primary_name, primary_timeline,
                           node_timeline);
    return w;
  }
  try {
    const std::optional<std::string> history = client::timeline_history(primary, primary_timeline);
    if (!history) {
      if (!w.checked) w.note = fmt::format("{} has no history file for timeline {}", primary_name, primary_timeline);
      return w;
    }
    // Lines "parentTLI<TAB>switchpoint<TAB>reason": the timeline after the
    // node's one starts at the node's line's switchpoint.
    std::istringstream in(*history);
    std::string line;
    long long child = 0;
    std::string fork;
    bool found = false;
    while (std::getline(in, line)) {
      long long parent = 0;
      char lsn[64] = {0};
      if (std::sscanf(line.c_str(), "%lld %63s", &parent, lsn) != 2) continue;
      if (found) {
        child = parent;
        break;
      }
      if (parent == node_timeline) {
        fork = lsn;
        found = true;
      }
    }
    if (!found) {
      if (!w.checked)
        w.note = fmt::format("timeline {} of {} does not descend from the node's timeline {}", primary_timeline,
                             primary_name, node_timeline);
      return w;
    }
    if (child == 0) child = primary_timeline;
    const auto switch_at = client::parse_lsn(fork);
    const client::WalFiles files = client::wal_files(primary);
    if (!switch_at || files.segment_size <= 0) {
      if (!w.checked) w.note = "could not read the fork point or the segment size";
      return w;
    }
    w.switch_lsn = fork;
    w.needed = segment_name(child, *switch_at / static_cast<std::uint64_t>(files.segment_size), files.segment_size);
    char tli[9];
    std::snprintf(tli, sizeof tli, "%08llX", static_cast<unsigned long long>(child));
    bool have = false;
    for (const auto& n : files.names) {
      if (n == w.needed) have = true;
      if (n.compare(0, 8, tli) == 0 && w.oldest.empty()) w.oldest = n;
    }
    w.checked = true;
    if (!have) {
      w.available = false;
      const std::string why =
          fmt::format("{} no longer has WAL segment {} (timeline {} from {}, where it forked off timeline {}){}",
                      primary_name, w.needed, child, fork, node_timeline,
                      w.oldest.empty() ? fmt::format(": it holds no segment of timeline {}", child)
                                       : fmt::format(": its oldest on that timeline is {}", w.oldest));
      w.cause = w.cause.empty() ? why : w.cause + "; " + why;
    }
  } catch (const std::exception& e) {
    if (!w.checked) w.note = "could not read the primary's WAL files: " + common::one_line(e.what());
  }
  return w;
}

std::vector<std::string> reclone_commands(const std::string& bindir, const std::string& pgdata,
                                          const std::string& primary_conninfo, const std::string& slot,
                                          const std::optional<std::string>& start_command) {
  return {fmt::format("mv {} {}.wal-gone", process::shell_quote(pgdata), process::shell_quote(pgdata)),
          pgnode::tool_command(bindir, "pg_basebackup",
                               {"-D", pgdata, "-d", primary_conninfo, "-X", "stream", "-c", "fast", "-R", "-C", "-S",
                                slot}),
          start_command ? *start_command : "# start it: pg_ctl -D " + pgdata + " -w start"};
}

}  // namespace rulekeeper::ops
