// WAL positions as at-risk compares them (issue #14 item 6): how far the
// primary has written and how far a standby has *received* — not replayed —
// because promotion replays everything received first
// (docs/design/postgres-traps.md "Streaming replication pair"): a change
// whose commit record the standby received survives a failover now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// At a primary: pg_current_wal_insert_lsn(), read in a statement of its own
// after the journal was listed, so every listed entry's commit record lies
// before it.
std::string wal_insert_position(pqxx::connection& conn);

// At a standby: pg_last_wal_receive_lsn() (received and flushed by its WAL
// receiver; kept after the receiver stops) and its replay state.
struct ReceivedWal {
  std::optional<std::string> received_lsn;  // none: nothing received by streaming since it started
  std::optional<std::string> replayed_lsn;
  std::string replay_pause_state;  // "not paused", "pause requested", "paused"
};
ReceivedWal received_wal(pqxx::connection& conn);

// At a primary, for `rejoin` (issue #14 item 7): which WAL segment files its
// pg_wal holds (pg_ls_waldir(): superuser or pg_monitor) and their size.
struct WalFiles {
  long long segment_size = 0;      // bytes (wal_segment_size)
  std::vector<std::string> names;  // 24-hex-digit segment file names only
};
WalFiles wal_files(pqxx::connection& conn);

// The history file of timeline `timeline` in its pg_wal (pg_read_file:
// superuser or pg_read_server_files); nullopt when it has none.
std::optional<std::string> timeline_history(pqxx::connection& conn, long long timeline);

// "16/B374D848" as a 64-bit position; nullopt when it does not parse.
std::optional<std::uint64_t> parse_lsn(const std::string& text);

}  // namespace rulekeeper::site::client
