// The journal and version vectors through the SQL API. See journal.hpp.
#include "site/client/journal.hpp"

#include <fmt/format.h>

#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {
namespace {

// The columns of a JournalEntry, from a rulekeeper.journal row aliased j.
std::string entry_columns() {
  return "j.change_id::text, j.origin_site, j.origin_incarnation, j.origin_seq, j.kind, j.rule_key, j.label, " +
         rfc3339("j.recorded_at") + ", j.recorded_lsn::text";
}

std::optional<std::string> text_or_null(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str());
}

std::vector<JournalEntry> entries(const pqxx::result& r) {
  std::vector<JournalEntry> out;
  for (const auto& row : r) {
    JournalEntry e;
    e.change_id = row[0].c_str();
    e.origin_site = row[1].c_str();
    e.origin_incarnation = row[2].as<long long>();
    e.origin_seq = row[3].as<long long>();
    e.kind = row[4].c_str();
    e.rule_key = text_or_null(row[5]);
    e.label = text_or_null(row[6]);
    e.recorded_at = row[7].c_str();
    e.recorded_lsn = text_or_null(row[8]);
    out.push_back(std::move(e));
  }
  return out;
}

const char* kOrder = " ORDER BY j.recorded_at, j.origin_site, j.origin_incarnation, j.origin_seq";

}  // namespace

std::string JournalEntry::origin() const { return fmt::format("{}:{}", origin_site, origin_incarnation); }

VersionVector version_vector(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return VersionVector::from_json(tx.exec("SELECT rulekeeper.version_vector()::text")[0][0].c_str());
}

std::vector<JournalEntry> journal_since(pqxx::connection& conn, const VersionVector& vector) {
  pqxx::nontransaction tx(conn);
  return entries(tx.exec_params("SELECT " + entry_columns() + " FROM rulekeeper.journal_since($1::jsonb) j" + kOrder,
                                vector.to_json()));
}

long long count_journal_since(pqxx::connection& conn, const VersionVector& vector) {
  pqxx::nontransaction tx(conn);
  return tx.exec_params("SELECT count(*) FROM rulekeeper.journal_since($1::jsonb)", vector.to_json())[0][0]
      .as<long long>();
}

std::vector<JournalEntry> journal_from_lsn(pqxx::connection& conn, const std::string& lsn) {
  pqxx::nontransaction tx(conn);
  return entries(
      tx.exec_params("SELECT " + entry_columns() + " FROM rulekeeper.journal_from_lsn($1::pg_lsn) j" + kOrder, lsn));
}

}  // namespace rulekeeper::site::client
