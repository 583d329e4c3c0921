// Control characters from the database made visible. See terminal.hpp.
#include "common/terminal.hpp"

#include <cstdint>
#include <ostream>
#include <streambuf>
#include <vector>

#include <fmt/format.h>

namespace rulekeeper::common {
namespace {

// Code points a terminal acts on or that reorder/split what is shown:
// C0 and DEL, C1 (U+0080–U+009F; U+009B is a one-character CSI),
// the Arabic letter mark, LRM/RLM, line/paragraph separators,
// bidirectional embeddings/overrides (U+202A–U+202E) and isolates
// (U+2066–U+2069) — the "Trojan Source" characters.
bool must_escape(std::uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void append_escape(std::string& out, std::uint32_t cp) {
  switch (cp) {
    case '\n': out += "\\n"; return;
    case '\t': out += "\\t"; return;
    case '\r': out += "\\r"; return;
    default: out += fmt::format("\\u{:04x}", cp);
  }
}

// Length of the UTF-8 sequence a lead byte starts, 0 for a byte that cannot
// start one (continuation bytes, C0/C1 overlong leads, > U+10FFFF).
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Decodes a complete sequence of `n` bytes; false when it is not well-formed
// UTF-8 (bad continuation, overlong, surrogate, beyond U+10FFFF).
bool decode(const unsigned char* s, int n, std::uint32_t& cp) {
  if (n == 1) {
    cp = s[0];
    return s[0] < 0x80;  // a lone byte >= 0x80 is a stray lead or continuation
  }
  cp = s[0] & (0xFF >> (n + 1));
  for (int i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  return cp >= kMin[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

// Feeds one code point (or one stray byte) of text to `out`.
void append_checked(std::string& out, const unsigned char* s, int n) {
  std::uint32_t cp = 0;
  if (!decode(s, n, cp)) {
    for (int i = 0; i < n; ++i) out += fmt::format("\\x{:02x}", s[i]);
  } else if (must_escape(cp)) {
    append_escape(out, cp);
  } else {
    out.append(reinterpret_cast<const char*>(s), static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string escape_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    int n = sequence_length(s[i]);
    if (n == 0 || i + static_cast<std::size_t>(n) > text.size()) n = 1;  // stray or truncated: \xNN
    std::uint32_t cp = 0;
    if (n > 1 && !decode(s + i, n, cp)) n = 1;  // resync after the lead byte
    append_checked(out, s + i, n);
    i += static_cast<std::size_t>(n);
  }
  return out;
}

// A byte-at-a-time filter: newline, tab and SGR colour sequences pass; the
// rest goes through the same rules as escape_controls(). A UTF-8 sequence or
// an escape sequence split across two writes is held until it completes.
class TerminalGuard::Filter : public std::streambuf {
public:
  explicit Filter(std::streambuf* dest) : dest_(dest) {}

  void finish() {
    for (unsigned char b : pending_) emit_stray(b);
    pending_.clear();
    flush_out();
    dest_->pubsync();
  }

protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    feed(static_cast<unsigned char>(traits_type::to_char_type(c)));
    flush_out();
    return c;
  }

  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) feed(static_cast<unsigned char>(s[i]));
    flush_out();
    return n;
  }

  int sync() override {
    flush_out();
    return dest_->pubsync();
  }

private:
  void emit_stray(unsigned char b) {
    if (b == 0x1B)
      out_ += "\\u001b";
    else if (b < 0x80)
      append_checked(out_, &b, 1);
    else
      out_ += fmt::format("\\x{:02x}", b);
  }

  void feed(unsigned char b) {
    if (!pending_.empty() && pending_[0] == 0x1B) {
      feed_escape(b);
      return;
    }
    if (!pending_.empty()) {
      if ((b & 0xC0) != 0x80) {  // the sequence broke off: its bytes are strays
        for (unsigned char p : pending_) emit_stray(p);
        pending_.clear();
        feed(b);
        return;
      }
      pending_.push_back(b);
      if (static_cast<int>(pending_.size()) == sequence_length(pending_[0])) {
        append_checked(out_, pending_.data(), static_cast<int>(pending_.size()));
        pending_.clear();
      }
      return;
    }
    if (b == '\n' || b == '\t') {
      out_.push_back(static_cast<char>(b));
    } else if (b == 0x1B) {
      pending_.push_back(b);
    } else {
      const int n = sequence_length(b);
      if (n == 1)
        append_checked(out_, &b, 1);
      else if (n == 0)
        emit_stray(b);
      else
        pending_.push_back(b);
    }
  }

  // ESC '[' (digit | ';')* 'm' passes (SGR: colour, bold, reset); anything
  // else after ESC is shown, the ESC escaped and the rest re-read.
  void feed_escape(unsigned char b) {
    const bool in_csi = pending_.size() >= 2;
    if (!in_csi && b == '[') {
      pending_.push_back(b);
      return;
    }
    if (in_csi && pending_.size() < 32 && ((b >= '0' && b <= '9') || b == ';')) {
      pending_.push_back(b);
      return;
    }
    if (in_csi && b == 'm') {
      out_.append(pending_.begin(), pending_.end());
      out_.push_back('m');
      pending_.clear();
      return;
    }
    out_ += "\\u001b";
    out_.append(pending_.begin() + 1, pending_.end());  // '[' and digits: printable
    pending_.clear();
    feed(b);
  }

  void flush_out() {
    if (!out_.empty()) dest_->sputn(out_.data(), static_cast<std::streamsize>(out_.size()));
    out_.clear();
  }

  std::streambuf* dest_;
  std::vector<unsigned char> pending_;
  std::string out_;
};

TerminalGuard::TerminalGuard(std::ostream& stream)
    : stream_(stream), original_(stream.rdbuf()), filter_(std::make_unique<Filter>(stream.rdbuf())) {
  stream_.flush();
  stream_.rdbuf(filter_.get());
}

TerminalGuard::~TerminalGuard() {
  stream_.flush();
  filter_->finish();
  stream_.rdbuf(original_);
}

}  // namespace rulekeeper::common
