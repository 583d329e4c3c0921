// libFuzzer target: validate_bundle on arbitrary bytes. It must return or
// throw rulekeeper::Error; anything else (another exception, a crash, a leak,
// undefined behaviour) is a finding. Random bytes almost never carry the
// right bundle_sha256, which would leave every check after the checksum
// unexercised, so each input that parses as an object is also sealed and
// validated again: that run must never report a checksum mismatch (seal and
// validate would disagree about the server's checksum), and validated by
// validate_canonical_bundle (the server's route), which must agree.
#include "fuzz_support.hpp"
#include "rulekeeper/bundle.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/json.hpp"
#include "rulekeeper/sha256.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

using namespace rulekeeper;
using rulekeeper::fuzz::finding;
using rulekeeper::fuzz::only_rulekeeper_errors;

namespace {

bool is_lower_hex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// What an accepted bundle's summary must satisfy whatever the input was.
void check_summary(const BundleSummary& s, const JsonValue& doc_without_checksum, const Sha256& sha) {
  if (s.format != kBundleFormat) finding("accepted a bundle of format " + s.format);
  if (s.source_environment != "e1" && s.source_environment != "e2")
    finding("accepted a bundle from environment " + s.source_environment);
  if (!is_lower_hex64(s.bundle_sha256)) finding("accepted bundle_sha256 " + s.bundle_sha256);
  if (to_hex(sha.digest(canonicalize(doc_without_checksum))) != s.bundle_sha256)
    finding("accepted a bundle whose checksum is not the JCS SHA-256 of the rest");
  auto count_of = [&](const char* name) -> std::size_t {
    for (const auto& m : doc_without_checksum.members)
      if (m.first == name) return m.second.items.size();
    finding(std::string("accepted a bundle without ") + name);
  };
  if (count_of("rules") != s.rule_count || count_of("versions") != s.version_count)
    finding("the summary miscounts rules or versions");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Sha256& sha = openssl_sha256();

  BundleSummary summary;
  const bool accepted = only_rulekeeper_errors("validate_bundle", [&] { summary = validate_bundle(text, sha); });

  JsonValue doc;
  if (!only_rulekeeper_errors("parse_json", [&] { doc = parse_json(text); })) {
    if (accepted) finding("validate_bundle accepted text that parse_json refuses");
    return 0;
  }
  if (doc.type != JsonValue::Type::object) return 0;
  doc.members.erase(std::remove_if(doc.members.begin(), doc.members.end(),
                                   [](const auto& m) { return m.first == "bundle_sha256"; }),
                    doc.members.end());
  if (accepted) check_summary(summary, doc, sha);

  std::string sealed;
  if (!only_rulekeeper_errors("seal_bundle", [&] { sealed = seal_bundle(doc, sha); })) return 0;
  try {
    summary = validate_bundle(sealed, sha);
    check_summary(summary, doc, sha);
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.rfind("bundle checksum mismatch", 0) == 0 || m.rfind("the bundle has no bundle_sha256", 0) == 0 ||
        m.rfind("the bundle's bundle_sha256", 0) == 0)
      finding("a freshly sealed bundle fails its checksum: " + m);
  } catch (const std::exception& e) {
    finding(std::string("validate_bundle (resealed) threw a non-rulekeeper exception: ") + e.what());
  }
  // As import_release runs it at an e3 site: only a bundle from e2 passes.
  const BundleTarget at_e3{"ipc2", "e3"};
  if (only_rulekeeper_errors("validate_bundle (target e3)", [&] { summary = validate_bundle(sealed, sha, &at_e3); }) &&
      summary.source_environment != "e2")
    finding("accepted a bundle from " + summary.source_environment + " at e3");
  // The server's route: validate_canonical_bundle on JCS text (sealed is
  // JCS) must do what validate_bundle does — accept with the same summary,
  // or refuse with the same message.
  for (const BundleTarget* target : {static_cast<const BundleTarget*>(nullptr), &at_e3}) {
    std::string slow_error, fast_error;
    BundleSummary slow, fast;
    try {
      slow = validate_bundle(sealed, sha, target);
    } catch (const Error& e) {
      slow_error = e.what();
    }
    try {
      fast = validate_canonical_bundle(sealed, sha, target);
    } catch (const Error& e) {
      fast_error = e.what();
    } catch (const std::exception& e) {
      finding(std::string("validate_canonical_bundle threw a non-rulekeeper exception: ") + e.what());
    }
    if (slow_error != fast_error)
      finding("validate_bundle and validate_canonical_bundle disagree: \"" + slow_error + "\" / \"" + fast_error +
              "\"");
    else if (slow_error.empty() && (slow.bundle_sha256 != fast.bundle_sha256 || slow.source_site != fast.source_site ||
                                    slow.source_environment != fast.source_environment ||
                                    slow.rule_count != fast.rule_count || slow.version_count != fast.version_count))
      finding("validate_bundle and validate_canonical_bundle give different summaries");
  }
  return 0;
}
