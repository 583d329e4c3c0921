// The journal as rulectl asks about it: a site's version vector (which
// journal entries it holds, docs/design/architecture.md "Replication") and
// the entries one site holds that another lacks — what a failover would lose.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "rulekeeper/version_vector.hpp"

namespace rulekeeper::site::client {

// One journal entry, as at-risk lists it.
struct JournalEntry {
  std::string change_id;
  std::string origin_site;
  long long origin_incarnation = 0;
  long long origin_seq = 0;
  std::string kind;
  std::optional<std::string> rule_key;
  std::optional<std::string> label;
  std::string recorded_at;                  // RFC 3339 UTC, milliseconds
  std::optional<std::string> recorded_lsn;  // WAL insert position when written

  std::string origin() const;  // "site:incarnation"
};

// rulekeeper.version_vector() at the site.
VersionVector version_vector(pqxx::connection& conn);

// rulekeeper.journal_since(vector): the entries this site holds that `vector`
// does not cover, ordered by recorded_at then origin.
std::vector<JournalEntry> journal_since(pqxx::connection& conn, const VersionVector& vector);
// Only how many there are (status's lag in changes).
long long count_journal_since(pqxx::connection& conn, const VersionVector& vector);

// rulekeeper.journal_from_lsn(lsn): the entries written at or after a WAL
// position (a slot's restart_lsn, as text), same order.
std::vector<JournalEntry> journal_from_lsn(pqxx::connection& conn, const std::string& lsn);

}  // namespace rulekeeper::site::client
