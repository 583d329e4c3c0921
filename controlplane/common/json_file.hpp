// Every JSON document rulectl reads from a file or a server's text (release
// and changes bundles, hotfix bodies, receipts) goes through the core's
// strict reader first: duplicate keys, invalid UTF-8, lone surrogates and
// absurd nesting are refused with the offending key and byte offset named —
// never resolved silently the way a general-purpose parser (or ::jsonb)
// resolves a duplicate key as "last one wins". Only then is the text handed
// to nlohmann::json for convenient access.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rulekeeper::common {

// Throws common::ExitError(exit_usage) "<what>: <reader's message>" when the
// text is not strict JSON. `what` names the source ("hotfix body file x.json").
nlohmann::json parse_strict_json(std::string_view text, const std::string& what);

// parse_strict_json for a rule body a person wrote (a hotfix --body-file):
// also refuses a number JCS cannot write exactly, quoting it as the author
// wrote it ("1e400"), before the server's jsonb rewrites it (docs/checksums.md
// "What a body may hold"). exit_usage, with the core's hint.
nlohmann::json parse_strict_body(std::string_view text, const std::string& what);

// read_file + parse_strict_json; a file that cannot be read is exit_usage too.
nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what);

}  // namespace rulekeeper::common
