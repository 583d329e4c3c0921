// What rulectl prints from the database reaches an operator's terminal.
// Reasons, rule keys, actors and JSON paths are written by other roles (the
// hotfix role writes reasons): an escape sequence among them could retitle
// the terminal, clear the screen or forge a line. Two layers keep them inert
// (docs/integrity.md "What rulectl prints"):
//
//  * escape_controls() on every value from the database that a text line
//    shows (Table cells always): control characters become visible escapes,
//    a newline too, so a value cannot start a line of its own;
//  * a guard on stdout and stderr for everything else: control characters
//    other than newline and tab, and escape sequences other than SGR colour
//    ("ESC [ digits/; m", which rulectl itself writes), are escaped on the way
//    out — whatever a code path forgot.
//
// Escapes use the JSON spelling (\n, \t, \r, \u001b, \u009b, \u202e), so a
// --json document stays valid JSON through the guard and --json output and
// text output spell a control character the same way.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

namespace rulekeeper::common {

// `text` with every C0 control (newline and tab included), DEL, C1 control,
// bidirectional override/isolate and line/paragraph separator escaped;
// bytes that are not UTF-8 become \xNN.
std::string escape_controls(std::string_view text);

// Filters what is written to `stream` (see above) until destroyed; the
// stream's own buffer is restored and flushed then.
class TerminalGuard {
public:
  explicit TerminalGuard(std::ostream& stream);
  ~TerminalGuard();
  TerminalGuard(const TerminalGuard&) = delete;
  TerminalGuard& operator=(const TerminalGuard&) = delete;

  class Filter;

private:
  std::ostream& stream_;
  std::streambuf* original_;
  std::unique_ptr<Filter> filter_;
};

}  // namespace rulekeeper::common
