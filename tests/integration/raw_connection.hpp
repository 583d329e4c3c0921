// A bare libpq connection for tests that must see the exact SQLSTATE of an
// error: libpqxx 6.4 drops it for some errors (insufficient_privilege) and
// throws others (serialization_failure) outside pqxx::sql_error.
#pragma once

#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace rulekeeper::testing {

class Raw {
public:
  explicit Raw(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK) {
      std::string m = PQerrorMessage(c_);
      PQfinish(c_);
      throw std::runtime_error("connect failed: " + m);
    }
  }
  ~Raw() { PQfinish(c_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  struct Result {
    bool ok = false;
    std::string sqlstate;
    std::string message;
    std::string value;  // first column of the first row
  };
  // One statement; `param`, if given, is $1 (sent as text, byte for byte).
  Result exec(const std::string& sql, const std::string* param = nullptr) {
    const char* values[1] = {param ? param->c_str() : nullptr};
    int lengths[1] = {param ? static_cast<int>(param->size()) : 0};
    PGresult* r =
        param ? PQexecParams(c_, sql.c_str(), 1, nullptr, values, lengths, nullptr, 0) : PQexec(c_, sql.c_str());
    Result out;
    ExecStatusType st = PQresultStatus(r);
    out.ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!out.ok) {
      const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      out.sqlstate = s ? s : "";
      out.message = PQresultErrorMessage(r);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) {
      out.value = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }
  bool alive() { return PQstatus(c_) == CONNECTION_OK; }

private:
  PGconn* c_;
};

}  // namespace rulekeeper::testing
