// Control characters from the database are shown, never acted on
// (controlplane/common/terminal.hpp).
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "common/terminal.hpp"

using rulekeeper::common::escape_controls;
using rulekeeper::common::TerminalGuard;

TEST(EscapeControls, ControlsBecomeJsonStyleEscapes) {
  EXPECT_EQ(escape_controls("\x1b]0;pwned\x07"), "\\u001b]0;pwned\\u0007");
  EXPECT_EQ(escape_controls("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(escape_controls(std::string("nul\0!", 5)), "nul\\u0000!");
  EXPECT_EQ(escape_controls("del\x7f"), "del\\u007f");
  EXPECT_EQ(escape_controls("csi\xc2\x9b"
                            "2J"),
            "csi\\u009b2J");  // C1 CSI
  EXPECT_EQ(escape_controls("rtl\xe2\x80\xae"
                            "x"),
            "rtl\\u202ex");                                     // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(escape_controls("iso\xe2\x81\xa6"), "iso\\u2066");  // LEFT-TO-RIGHT ISOLATE
  EXPECT_EQ(escape_controls("ls\xe2\x80\xa8"), "ls\\u2028");    // LINE SEPARATOR
}

TEST(EscapeControls, PrintableTextIsUnchanged) {
  for (const char* s : {"", "plain", "héllo ✓ — 価格 🚀",
                        "a\xc2\xa0"
                        "b",
                        "quote ' \" \\ ;"})
    EXPECT_EQ(escape_controls(s), s);
}

TEST(EscapeControls, BytesThatAreNotUtf8AreShownAsHex) {
  EXPECT_EQ(escape_controls("\xff"), "\\xff");
  EXPECT_EQ(escape_controls("cut\xe2\x80"), "cut\\xe2\\x80");     // truncated sequence
  EXPECT_EQ(escape_controls("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_controls("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(escape_controls("\xe2\x28\xa1"), "\\xe2(\\xa1");      // bad continuation: resync
}

namespace {
std::string through_guard(const std::vector<std::string>& writes) {
  std::ostringstream sink;
  {
    TerminalGuard guard(sink);
    for (const auto& w : writes) sink << w << std::flush;
  }
  return sink.str();
}
}  // namespace

TEST(TerminalGuard, ColourNewlineAndTabPass) {
  const std::string coloured = "\x1b[31mred\x1b[0m\t\x1b[1;32mbold green\x1b[m\n";
  EXPECT_EQ(through_guard({coloured}), coloured);
}

TEST(TerminalGuard, OtherSequencesAreEscaped) {
  EXPECT_EQ(through_guard({"\x1b]0;title\x07"}), "\\u001b]0;title\\u0007");
  EXPECT_EQ(through_guard({"\x1b[2J\x1b[H"}), "\\u001b[2J\\u001b[H");
  EXPECT_EQ(through_guard({"\x1b"
                           "c"}),
            "\\u001bc");                                          // full reset
  EXPECT_EQ(through_guard({"\x1b\x1b[31m"}), "\\u001b\x1b[31m");  // a stray ESC before a colour
  EXPECT_EQ(through_guard({"cr\rback\b"}), "cr\\rback\\u0008");
  EXPECT_EQ(through_guard({"\xc2\x9b"
                           "2J \xe2\x80\xae"}),
            "\\u009b2J \\u202e");
}

TEST(TerminalGuard, SequencesSplitAcrossWritesAreJudgedWhole) {
  EXPECT_EQ(through_guard({"\x1b", "[31", "mx"}), "\x1b[31mx");
  EXPECT_EQ(through_guard({"\x1b", "[2", "J"}), "\\u001b[2J");
  EXPECT_EQ(through_guard({"\xe2", "\x80", "\xae"}), "\\u202e");
  EXPECT_EQ(through_guard({"\xe2\x9c", "\x93"}), "✓");
  EXPECT_EQ(through_guard({"end\x1b"}), "end\\u001b");  // pending at the end
  EXPECT_EQ(through_guard({"end\xe2\x9c"}), "end\\xe2\\x9c");
}

TEST(TerminalGuard, JsonStaysValidAndKeepsItsValues) {
  const nlohmann::json doc = {{"reason", "x\x1b]0;t\x07\xc2\x9b\xe2\x80\xae\n"}};
  const std::string out = through_guard({doc.dump(2)});
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(out), doc) << out;
}

TEST(TerminalGuard, TableCellsAreEscaped) {
  rulekeeper::common::Table t({"key", "reason"});
  t.add_row({"k\x1b[2J", "two\nlines"});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(), "key         reason\nk\\u001b[2J  two\\nlines\n");
}

TEST(DisplayWidth, WideAndCombiningCharactersTakeTheirColumns) {
  using rulekeeper::common::abbreviate;
  using rulekeeper::common::display_width;
  EXPECT_EQ(display_width("rate"), 4u);
  EXPECT_EQ(display_width("価格"), 4u);       // two CJK characters, two columns each
  EXPECT_EQ(display_width("e\xcc\x81"), 1u);  // e + COMBINING ACUTE ACCENT
  EXPECT_EQ(display_width("…"), 1u);
  EXPECT_EQ(abbreviate("価格表ルール", 5), "価格…");  // 4 columns fit, the 6th would not
  EXPECT_EQ(abbreviate("short", 5), "short");
}

TEST(DisplayWidth, TablesAlignCjkKeys) {
  rulekeeper::common::Table t({"rule", "label"});
  t.add_row({"価格", "1"});
  t.add_row({"rate", "2"});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(), "rule  label\n価格  1\nrate  2\n");
}
