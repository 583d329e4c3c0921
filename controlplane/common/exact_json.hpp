// JSON text for documents rulectl writes into the journal (a failover
// event's details): every number as the shortest decimal that reads back as
// the same double, in ECMAScript's form (rulekeeper::format_jcs_number),
// which is what the extension's JCS (RFC 8785) export requires of a stored
// number. nlohmann::json's own dump
// writes doubles with Grisu2, whose digits are not always the shortest
// ("0.07061321499999999"): export_changes then refuses the whole bundle
// (docs/checksums.md; issue #14 item 3). Non-finite numbers become null.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rulekeeper::common {

std::string dump_exact(const nlohmann::json& doc);

}  // namespace rulekeeper::common
