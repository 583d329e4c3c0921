// SHA-256 inside the server: PostgreSQL's own pg_cryptohash, behind the core's
// Sha256 interface so that the core computes the same checksums everywhere.
#pragma once
#include "rulekeeper/sha256.hpp"

namespace rulekeeper::pg {

// Called from C++ (guarded) code: pg_cryptohash errors become PgError.
const Sha256& server_sha256();

}  // namespace rulekeeper::pg
