// JCS from jsonb's binary form (see jsonb_canonical.hpp).
//
// Two phases keep the C++/PostgreSQL boundary simple (guard.hpp):
//  1. plain PostgreSQL C walks the jsonb with JsonbIteratorNext into a flat
//     array of tokens (strings point into the jsonb; numbers are printed by
//     numeric_out, as the text route prints them) — it may ereport freely;
//  2. a guarded C++ pass writes the JCS text from the tokens, ordering each
//     object's members by UTF-16 code units (jsonb keeps them by length,
//     then bytes) with the core's own string, number and order functions.
#include "jsonb_canonical.hpp"

#include "content.hpp"
#include "guard.hpp"
#include "pg_sha256.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/sha256.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/numeric.h"
}

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rulekeeper::pg::jsonb_jcs {
namespace {

enum class Kind : uint8 { null, true_, false_, string, number, key, object, array, end };

struct Token {
  Kind kind;
  uint32 length;     // string, number, key: bytes at text
  const char* text;  // string, key: inside the jsonb; number: numeric_out's text
  uint32 end;        // object, array: index of the matching end token
};

struct Tokens {
  Token* items;
  uint32 count;
  bool raw_scalar;  // the jsonb is a bare scalar (stored as a one-element array)
};

// Phase 1: plain C, no C++ objects alive.
Tokens tokenize(Jsonb* value) {
  uint32 capacity = 64, count = 0;
  // "Huge" allocations: a large document has more than 2^25 tokens, whose
  // array passes palloc's 1 GB limit while the text route still copes.
  Token* items = static_cast<Token*>(MemoryContextAllocHuge(CurrentMemoryContext, sizeof(Token) * capacity));
  uint32 stack_capacity = 16, depth = 0;
  uint32* open = static_cast<uint32*>(palloc(sizeof(uint32) * stack_capacity));
  bool raw_scalar = false;
  JsonbIterator* it = JsonbIteratorInit(&value->root);
  JsonbValue v;
  JsonbIteratorToken r;
  while ((r = JsonbIteratorNext(&it, &v, false)) != WJB_DONE) {
    if (count == capacity) {
      capacity *= 2;
      items = static_cast<Token*>(repalloc_huge(items, sizeof(Token) * capacity));
    }
    Token& t = items[count];
    t = Token{Kind::null, 0, nullptr, 0};
    switch (r) {
      case WJB_BEGIN_OBJECT:
      case WJB_BEGIN_ARRAY:
        t.kind = r == WJB_BEGIN_OBJECT ? Kind::object : Kind::array;
        if (r == WJB_BEGIN_ARRAY && v.val.array.rawScalar) raw_scalar = true;
        if (depth == stack_capacity) {
          stack_capacity *= 2;
          open = static_cast<uint32*>(repalloc(open, sizeof(uint32) * stack_capacity));
        }
        // The nesting limit is checked here, before any value is judged,
        // so a document too deep and holding an inexact number is refused
        // for its depth, as the text route (which parses first) refuses it.
        if (depth >= kMaxJsonDepth)
          ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                          errmsg("invalid JSON: nesting deeper than %zu levels", kMaxJsonDepth)));
        open[depth++] = count;
        break;
      case WJB_END_OBJECT:
      case WJB_END_ARRAY:
        t.kind = Kind::end;
        items[open[--depth]].end = count;
        break;
      case WJB_KEY:
        t.kind = Kind::key;
        t.text = v.val.string.val;
        t.length = static_cast<uint32>(v.val.string.len);
        break;
      case WJB_VALUE:
      case WJB_ELEM:
        switch (v.type) {
          case jbvNull: t.kind = Kind::null; break;
          case jbvBool: t.kind = v.val.boolean ? Kind::true_ : Kind::false_; break;
          case jbvString:
            t.kind = Kind::string;
            t.text = v.val.string.val;
            t.length = static_cast<uint32>(v.val.string.len);
            break;
          case jbvNumeric: {
            char* printed = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
            t.kind = Kind::number;
            t.text = printed;
            t.length = static_cast<uint32>(strlen(printed));
            break;
          }
          default: elog(ERROR, "rulekeeper: unexpected jsonb value type %d", static_cast<int>(v.type));
        }
        break;
      default: elog(ERROR, "rulekeeper: unexpected jsonb iterator token %d", static_cast<int>(r));
    }
    ++count;
  }
  pfree(open);
  return Tokens{items, count, raw_scalar};
}

// Phase 2 (inside guarded): writes the value at tokens[i], returns the index
// after it. depth = containers open around it, limited as parse_json limits.
// keys: scratch for member orders, used as a stack (each object sorts its
// own segment at the end), so a body costs no allocation per object.
uint32 write_value(const Token* tokens, uint32 i, std::string& out, std::size_t depth, std::vector<uint32>& keys) {
  const Token& t = tokens[i];
  switch (t.kind) {
    case Kind::null: out += "null"; return i + 1;
    case Kind::true_: out += "true"; return i + 1;
    case Kind::false_: out += "false"; return i + 1;
    case Kind::string: append_jcs_string(out, std::string_view(t.text, t.length)); return i + 1;
    case Kind::number: append_jcs_number(out, std::string_view(t.text, t.length)); return i + 1;
    case Kind::key:
    case Kind::end: throw Error(ErrorKind::internal, "malformed jsonb token stream");
    case Kind::array:
    case Kind::object: break;
  }
  if (depth + 1 > kMaxJsonDepth)
    throw Error(ErrorKind::invalid_json,
                "invalid JSON: nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (t.kind == Kind::array) {
    out += '[';
    uint32 j = i + 1;
    for (bool first = true; j < t.end; first = false) {
      if (!first) out += ',';
      j = write_value(tokens, j, out, depth + 1, keys);
    }
    out += ']';
    return t.end + 1;
  }
  // Members: (key token, value token) pairs, then sorted by UTF-16 order.
  const std::size_t first = keys.size();
  for (uint32 j = i + 1; j < t.end;) {
    keys.push_back(j);
    const Token& value = tokens[j + 1];
    j = (value.kind == Kind::object || value.kind == Kind::array) ? value.end + 1 : j + 2;
  }
  const std::size_t last = keys.size();
  auto name = [&](uint32 k) { return std::string_view(tokens[k].text, tokens[k].length); };
  std::sort(keys.begin() + first, keys.end(), [&](uint32 a, uint32 b) { return utf16_less(name(a), name(b)); });
  out += '{';
  for (std::size_t m = first; m < last; ++m) {
    if (m > first) out += ',';
    append_jcs_string(out, name(keys[m]));
    out += ':';
    write_value(tokens, keys[m] + 1, out, depth + 1, keys);
  }
  keys.resize(first);
  out += '}';
  return t.end + 1;
}

void write_tokens(const Tokens& tokens, std::string& out) {
  // Reused by every call of this backend (a trigger writes one body per
  // row); given back when a large document made it large.
  static std::vector<uint32> keys;
  keys.clear();
  if (keys.capacity() > 64 * 1024) std::vector<uint32>().swap(keys);
  out.reserve(out.size() + tokens.count * 8);
  if (tokens.raw_scalar) {
    write_value(tokens.items, 1, out, 0, keys);  // [ scalar ] stored; the scalar is the value
  } else {
    write_value(tokens.items, 0, out, 0, keys);
  }
}

std::string write_tokens(const Tokens& tokens) {
  std::string out;
  write_tokens(tokens, out);
  return out;
}

}  // namespace

char* canonical(Jsonb* value, std::size_t* length) {
  Tokens tokens = tokenize(value);
  char* result = guarded([&] {
    std::string text = write_tokens(tokens);
    char* copy = palloc_copy(text.data(), text.size());
    if (length) *length = text.size();
    return copy;
  });
  pfree(tokens.items);
  return result;
}

void visit_canonical(Jsonb* value, void (*visit)(std::string_view text, void* arg), void* arg) {
  Tokens tokens = tokenize(value);
  guarded([&] {
    std::string text = write_tokens(tokens);
    visit(text, arg);
  });
  pfree(tokens.items);
}

char* content_sha256(Jsonb* body) {
  // Not an object: the text route refuses it with the message naming what it is.
  if (!JB_ROOT_IS_OBJECT(body) || JB_ROOT_IS_SCALAR(body)) return content::content_sha256(content::jsonb_text(body));
  Tokens tokens = tokenize(body);
  char* hex = static_cast<char*>(palloc(65));
  guarded([&] {
    // One buffer for every body this backend hashes (a trigger hashes each
    // version it inserts): cleared, its capacity kept, up to a bound.
    static std::string text;
    text.clear();
    write_tokens(tokens, text);
    const Digest digest = server_sha256().digest(text);
    static const char digits[] = "0123456789abcdef";
    for (std::size_t k = 0; k < digest.size(); ++k) {
      hex[2 * k] = digits[digest[k] >> 4];
      hex[2 * k + 1] = digits[digest[k] & 0xf];
    }
    hex[64] = '\0';
    if (text.capacity() > 1024 * 1024) std::string().swap(text);
  });
  pfree(tokens.items);
  return hex;
}

}  // namespace rulekeeper::pg::jsonb_jcs
