#include "site/client/server_state.hpp"

#include "common/time.hpp"

namespace rulekeeper::site::client {

std::optional<std::string> single_value(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

std::optional<std::string> setting(pqxx::connection& c, const std::string& name) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec_params("SELECT current_setting($1, true)", name);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

std::optional<std::string> server_version(pqxx::connection& c) { return single_value(c, "SHOW server_version"); }

std::optional<std::string> extension_version(pqxx::connection& c) {
  return single_value(c, "SELECT extversion FROM pg_extension WHERE extname = 'rulekeeper'");
}

namespace {
std::optional<long long> as_number(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  return std::stoll(*v);
}
}  // namespace

std::optional<long long> extension_timeline(pqxx::connection& c) {
  return as_number(single_value(c, "SELECT rulekeeper.timeline()"));
}

std::optional<long long> checkpoint_timeline(pqxx::connection& c) {
  return as_number(single_value(c, "SELECT timeline_id FROM pg_control_checkpoint()"));
}

std::optional<std::string> system_identifier(pqxx::connection& c) {
  return single_value(c, "SELECT system_identifier::text FROM pg_control_system()");
}

std::optional<std::string> postmaster_started(pqxx::connection& c) {
  return single_value(c,
                      "SELECT to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', "
                      "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
}

std::optional<std::string> chain_heads_text(pqxx::connection& c) {
  return single_value(c,
                      "SELECT COALESCE(jsonb_object_agg(origin_site || ':' || origin_incarnation, "
                      "jsonb_build_object('seq', origin_seq, 'entry_hash', entry_hash)), "
                      "'{}'::jsonb)::text FROM rulekeeper.chain_heads()");
}

std::optional<std::string> version_vector_text(pqxx::connection& c) {
  return single_value(c, "SELECT rulekeeper.version_vector()::text");
}

nlohmann::json replication_status(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : tx.exec("SELECT * FROM rulekeeper.replication_status")) rows.push_back(row_to_json(row));
  return rows;
}

WalReceiver wal_receiver(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec("SELECT status, sender_host, sender_port::text FROM pg_stat_wal_receiver");
  WalReceiver w;
  if (r.empty()) return w;
  if (!r[0][0].is_null()) w.status = r[0][0].c_str();
  if (!r[0][1].is_null() && !r[0][2].is_null()) {
    w.sender_host = r[0][1].c_str();
    w.sender_port = r[0][2].c_str();
  }
  return w;
}

StandbyView standby_view(pqxx::connection& c) {
  StandbyView v;
  try {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(
        "SELECT wal_receiver_status, upstream, last_heartbeat_site, extract(epoch FROM last_heartbeat_at)::float8 "
        "FROM rulekeeper.replication_status");
    if (!r.empty()) {
      v.source = "rulekeeper.replication_status";
      const auto& row = r[0];
      if (!row[0].is_null() && std::string(row[0].c_str()) != "stopped") v.receiver_status = row[0].c_str();
      if (!row[1].is_null()) {
        // "host:port" (host may be an IPv6 address: the port follows the last colon).
        const std::string up = row[1].c_str();
        const auto colon = up.rfind(':');
        if (colon != std::string::npos && colon > 0) {
          v.sender_host = up.substr(0, colon);
          v.sender_port = up.substr(colon + 1);
        }
      }
      if (!row[2].is_null()) v.last_heartbeat_site = row[2].c_str();
      if (!row[3].is_null()) v.last_heartbeat_epoch = row[3].as<double>();
      return v;
    }
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception&) {
    // No extension, or no EXECUTE on it for this role: the catalog view.
  }
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec("SELECT pid IS NOT NULL, status, sender_host, sender_port::text FROM pg_stat_wal_receiver");
  v.source = "pg_stat_wal_receiver";
  if (r.empty()) return v;
  if (!r[0][1].is_null())
    v.receiver_status = r[0][1].c_str();
  else
    v.hidden = r[0][0].as<bool>();
  if (!r[0][2].is_null() && !r[0][3].is_null()) {
    v.sender_host = r[0][2].c_str();
    v.sender_port = r[0][3].c_str();
  }
  return v;
}

std::optional<std::string> primary_conninfo(pqxx::connection& c) {
  auto v = single_value(c, "SELECT current_setting('primary_conninfo')");
  if (v && v->empty()) return std::nullopt;
  return v;
}

nlohmann::json row_to_json(const pqxx::row& row) {
  // Type OIDs of the built-in types (pg_type.h): stable across versions.
  constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701, kNumeric = 1700,
                      kTimestamp = 1114, kTimestampTz = 1184;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : row) {
    const std::string name = f.name();
    if (f.is_null()) {
      j[name] = nullptr;
      continue;
    }
    switch (f.type()) {
      case kBool: j[name] = f.as<bool>(); break;
      case kInt2:
      case kInt4:
      case kInt8: j[name] = f.as<long long>(); break;
      case kFloat4:
      case kFloat8: j[name] = f.as<double>(); break;
      case kTimestamp:
      case kTimestampTz: j[name] = common::rfc3339_from_pg(f.c_str()); break;
      case kNumeric: {
        // Byte counts: integral in practice; keep exact when they are.
        const std::string text = f.c_str();
        if (text.find_first_of(".eE") == std::string::npos)
          j[name] = std::stoll(text);
        else
          j[name] = std::stod(text);
        break;
      }
      default: j[name] = std::string(f.c_str());
    }
  }
  return j;
}

}  // namespace rulekeeper::site::client
