// libFuzzer target: parse_json + canonicalize on arbitrary bytes. Both must
// return or throw rulekeeper::Error, and JCS must be a fixed point: the
// canonical text parses, and canonicalizing it again gives the same bytes
// (checksums computed by different tools, or twice, must agree).
#include "fuzz_support.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/json.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace rulekeeper;
using rulekeeper::fuzz::finding;
using rulekeeper::fuzz::only_rulekeeper_errors;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  JsonValue doc;
  if (!only_rulekeeper_errors("parse_json", [&] { doc = parse_json(text); })) return 0;
  std::string once;
  if (!only_rulekeeper_errors("canonicalize", [&] { once = canonicalize(doc); })) return 0;

  // The input parsed, so its canonical form must parse too (same depth: JCS
  // adds no nesting) and be its own canonical form.
  std::string twice;
  try {
    twice = canonicalize(parse_json(once));
  } catch (const Error& e) {
    finding(std::string("canonical text is refused when read back: ") + e.what() + "\ncanonical: " + once);
  }
  if (twice != once) finding("canonicalize is not idempotent:\nonce:  " + once + "\ntwice: " + twice);
  // The convenience wrapper must say the same as the two steps.
  if (canonicalize_text(text) != once) finding("canonicalize_text differs from canonicalize(parse_json)");
  return 0;
}
