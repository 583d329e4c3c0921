// SHA-256 inside the server, behind the core's Sha256 interface so that the
// core computes the same checksums everywhere.
//
// It uses the libcrypto PostgreSQL itself is linked with (Debian builds it
// with OpenSSL), with the algorithm fetched once and one digest context
// reused for the backend's life. pg_cryptohash, PostgreSQL's wrapper over the
// same library, re-fetches the algorithm and registers a resource-owner entry
// on every call: measured at ~50% of verify_checksums() and a third of the
// insert trigger (bench/README.md), for no difference in the result — the
// vectors in tests/unit and the pg_regress comparison against PostgreSQL's
// own sha256() pin that.
#pragma once
#include "rulekeeper/sha256.hpp"

namespace rulekeeper::pg {

// For guarded (C++) code: a failure throws rulekeeper::Error.
const Sha256& server_sha256();

}  // namespace rulekeeper::pg
