// GUC definitions and the checks built on them (see settings.hpp).
#include "settings.hpp"

extern "C" {
#include "access/xlog.h"
#include "utils/guc.h"
}

#include <cstring>

namespace rulekeeper::pg {
namespace {

char* site = nullptr;
char* environment = nullptr;
char* database = nullptr;
int heartbeat_interval = 1000;
int max_body_bytes = 1024 * 1024;
char* signing_key_file = nullptr;
bool allow_unsigned_bundles = false;

// A site name becomes part of version-vector keys ("site:incarnation") and of
// file names: keep it to a plain identifier.
bool check_site(char** newval, void**, GucSource) {
  const char* value = *newval;
  if (value == nullptr || value[0] == '\0') return true;
  std::size_t len = std::strlen(value);
  if (len > 63) {
    GUC_check_errdetail("rulekeeper.site must be at most 63 characters.");
    return false;
  }
  for (const char* p = value; *p; ++p) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      GUC_check_errdetail("rulekeeper.site may contain only a-z, 0-9, '_' and '-'.");
      return false;
    }
  }
  return true;
}

bool check_environment(char** newval, void**, GucSource) {
  const char* value = *newval;
  if (value == nullptr || value[0] == '\0') return true;
  if (std::strcmp(value, "e1") == 0 || std::strcmp(value, "e2") == 0 || std::strcmp(value, "e3") == 0) return true;
  GUC_check_errdetail("rulekeeper.environment must be one of e1, e2, e3.");
  return false;
}

}  // namespace

void define_settings() {
  DefineCustomStringVariable("rulekeeper.site", "This node's site name (e1, e2, ipc2, ipc1, ...).",
                             "Set per node, outside PGDATA; every write refuses while it is empty.", &site, "",
                             PGC_SIGHUP, 0, check_site, nullptr, nullptr);
  DefineCustomStringVariable("rulekeeper.environment", "This node's environment: e1, e2 or e3.",
                             "Set per node; every write refuses while it is empty.", &environment, "", PGC_SIGHUP, 0,
                             check_environment, nullptr, nullptr);
  DefineCustomStringVariable("rulekeeper.database", "Database the heartbeat worker connects to.", nullptr, &database,
                             "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("rulekeeper.heartbeat_interval", "Milliseconds between heartbeats; 0 turns them off.",
                          nullptr, &heartbeat_interval, 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("rulekeeper.max_body_bytes",
                          "Largest rule body a new version may have, in bytes of its jsonb form (uncompressed).",
                          "Every pod loads every active body; a body beyond this is refused with a clear error. "
                          "Restored rows are not checked.",
                          &max_body_bytes, 1024 * 1024, 1024, 1024 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE, nullptr,
                          nullptr, nullptr);
  // Superuser-only by being PGC_SIGHUP (postgresql.conf or ALTER SYSTEM);
  // GUC_SUPERUSER_ONLY also hides where the key is from other roles
  // (docs/keys.md).
  DefineCustomStringVariable("rulekeeper.signing_key_file",
                             "Ed25519 private key (PEM) this site signs exported bundles with; empty: unsigned.",
                             "Readable only by the server's OS user: a file with group or other permissions is "
                             "refused.",
                             &signing_key_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("rulekeeper.allow_unsigned_bundles",
                           "Import bundles that carry no signature (with a WARNING on every import).",
                           "Signed bundles are still verified; meant for a first run before keys are registered.",
                           &allow_unsigned_bundles, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("rulekeeper");
}

const char* site_setting() { return site ? site : ""; }
const char* environment_setting() { return environment ? environment : ""; }
const char* database_setting() { return database ? database : "postgres"; }
int heartbeat_interval_ms() { return heartbeat_interval; }
int max_body_bytes_setting() { return max_body_bytes; }
const char* signing_key_file_setting() { return signing_key_file ? signing_key_file : ""; }

const char* require_site(const char* action) {
  if (site == nullptr || site[0] == '\0')
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rulekeeper.site is not set on this node; %s needs it", action),
                    errhint("Set rulekeeper.site (and rulekeeper.environment) in this node's own settings "
                            "file or with -c on its command line, then reload.")));
  return site;
}

void require_environment(const char* wanted, const char* action) {
  const char* s = require_site(action);
  if (environment == nullptr || environment[0] == '\0')
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rulekeeper.environment is not set on this node (site %s); %s needs it", s, action),
                    errhint("Set rulekeeper.environment to e1, e2 or e3 in this node's own settings, then reload.")));
  if (std::strcmp(environment, wanted) != 0)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("%s is allowed only in environment %s; this is site %s in environment %s", action, wanted, s,
                           environment)));
}

void require_writable_node(const char* action) {
  if (RecoveryInProgress())
    ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                    errmsg("%s: this node (site %s) is a standby in recovery and takes no writes", action,
                           site_setting()[0] ? site_setting() : "unset"),
                    errhint("Write at the primary; rulectl resolves --site e3 to it.")));
}

}  // namespace rulekeeper::pg
