// Tests of core/json_diff.cpp: the diff (order, RFC 6901 escaping, UTF-16
// member order, number equality, array growth and shrinkage), applying a diff
// in order reproduces its target (a table and a seeded random property test),
// JSON pointers (parse errors, value_at, path_within) and the classification
// of a planned body against a hotfix (docs/design/architecture.md "Drift").
#include "rulekeeper/json_diff.hpp"

#include "rulekeeper/canonical_json.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;
using T = JsonValue::Type;

namespace {

// One entry as "op path old new" for compact expectations; absent values as "-".
std::string show(const DiffEntry& e) {
  return std::string(to_string(e.op)) + " " + e.path + " " + e.old_value.value_or("-") + " " +
         e.new_value.value_or("-");
}

std::vector<std::string> show_diff(std::string_view from, std::string_view to) {
  std::vector<std::string> out;
  for (const DiffEntry& e : json_diff_text(from, to)) out.push_back(show(e));
  return out;
}

using Lines = std::vector<std::string>;

// A test-only RFC 6902-style applier: entries in order, each one strict (the
// parent must exist, an add must not overwrite a member, a remove/replace must
// find the value the entry says was there).
JsonValue* child(JsonValue& v, const std::string& token) {
  if (v.type == T::object) {
    for (auto& m : v.members)
      if (m.first == token) return &m.second;
    return nullptr;
  }
  if (v.type == T::array) {
    std::size_t idx = std::stoul(token);
    return idx < v.items.size() ? &v.items[idx] : nullptr;
  }
  return nullptr;
}

void apply_entry(JsonValue& doc, const DiffEntry& e) {
  auto fail = [&](const std::string& why) { throw std::runtime_error(show(e) + ": " + why); };
  auto check_old = [&](const JsonValue& v) {
    if (!e.old_value || canonicalize(v) != *e.old_value) fail("old value is " + canonicalize(v));
  };
  std::vector<std::string> tokens = parse_pointer(e.path);
  if (tokens.empty()) {
    if (e.op != DiffOp::replace) fail("only replace at the root");
    check_old(doc);
    doc = parse_json(*e.new_value);
    return;
  }
  JsonValue* parent = &doc;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    parent = child(*parent, tokens[i]);
    if (!parent) fail("no parent");
  }
  const std::string& last = tokens.back();
  if (parent->type == T::object) {
    auto it =
        std::find_if(parent->members.begin(), parent->members.end(), [&](const auto& m) { return m.first == last; });
    switch (e.op) {
      case DiffOp::add:
        if (it != parent->members.end()) fail("member exists");
        parent->members.emplace_back(last, parse_json(*e.new_value));
        return;
      case DiffOp::remove:
        if (it == parent->members.end()) fail("no member");
        check_old(it->second);
        parent->members.erase(it);
        return;
      case DiffOp::replace:
        if (it == parent->members.end()) fail("no member");
        check_old(it->second);
        it->second = parse_json(*e.new_value);
        return;
    }
  }
  if (parent->type == T::array) {
    std::size_t idx = std::stoul(last);
    auto& items = parent->items;
    switch (e.op) {
      case DiffOp::add:
        if (idx > items.size()) fail("index beyond the end");
        items.insert(items.begin() + static_cast<std::ptrdiff_t>(idx), parse_json(*e.new_value));
        return;
      case DiffOp::remove:
        if (idx >= items.size()) fail("no element");
        check_old(items[idx]);
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(idx));
        return;
      case DiffOp::replace:
        if (idx >= items.size()) fail("no element");
        check_old(items[idx]);
        items[idx] = parse_json(*e.new_value);
        return;
    }
  }
  fail("parent is a scalar");
}

JsonValue apply_diff(JsonValue doc, const std::vector<DiffEntry>& diff) {
  for (const DiffEntry& e : diff) apply_entry(doc, e);
  return doc;
}

}  // namespace

// ---------------------------------------------------------------------------
// json_diff

TEST(JsonDiff, EqualValuesProduceNothing) {
  EXPECT_TRUE(show_diff("null", "null").empty());
  EXPECT_TRUE(show_diff(R"({"a":[1,{"b":"x"}],"c":true})", R"({"c":true,"a":[1,{"b":"x"}]})").empty());
  EXPECT_TRUE(show_diff("[]", "[]").empty());
  EXPECT_TRUE(show_diff("{}", "{}").empty());
}

TEST(JsonDiff, NumbersCompareByValue) {
  EXPECT_TRUE(show_diff("1", "1.0").empty());
  EXPECT_TRUE(show_diff(R"({"rate":[1, 100, 0.5, -0]})", R"({"rate":[1e0, 1E2, 5e-1, 0]})").empty());
  EXPECT_EQ(show_diff(R"({"rate":1.0})", R"({"rate":1.5})"), (Lines{"replace /rate 1 1.5"}));
  // Values are written in JCS form, whatever the literal was.
  EXPECT_EQ(show_diff(R"({"a":1.50E+2})", R"({})"), (Lines{"remove /a 150 -"}));
}

TEST(JsonDiff, NestedObjectsDepthFirstInKeyOrder) {
  EXPECT_EQ(show_diff(R"({"z":1,"m":{"b":1,"a":{"y":1,"x":1}},"a":0})",
                      R"({"a":1,"m":{"a":{"x":2,"w":true},"c":3},"z":1})"),
            (Lines{
                "replace /a 0 1",
                "add /m/a/w - true",
                "replace /m/a/x 1 2",
                "remove /m/a/y 1 -",
                "remove /m/b 1 -",
                "add /m/c - 3",
            }));
}

TEST(JsonDiff, NestedArraysByIndex) {
  EXPECT_EQ(show_diff(R"({"tiers":[{"min":0,"rate":1},{"min":10,"rate":2}]})",
                      R"({"tiers":[{"min":0,"rate":1},{"min":10,"rate":3,"cap":5}]})"),
            (Lines{"add /tiers/1/cap - 5", "replace /tiers/1/rate 2 3"}));
  EXPECT_EQ(show_diff("[[1,2],[3]]", "[[1],[3,4]]"), (Lines{"remove /0/1 2 -", "add /1/1 - 4"}));
}

TEST(JsonDiff, TypeChangesAreOneReplace) {
  EXPECT_EQ(show_diff(R"({"a":{"b":1}})", R"({"a":[1]})"), (Lines{R"(replace /a {"b":1} [1])"}));
  EXPECT_EQ(show_diff(R"({"a":"1"})", R"({"a":1})"), (Lines{R"(replace /a "1" 1)"}));
  EXPECT_EQ(show_diff(R"({"a":null})", R"({"a":false})"), (Lines{"replace /a null false"}));
  EXPECT_EQ(show_diff(R"({"a":true})", R"({"a":false})"), (Lines{"replace /a true false"}));
  EXPECT_EQ(show_diff(R"({"a":[]})", R"({"a":{}})"), (Lines{"replace /a [] {}"}));
}

TEST(JsonDiff, RootReplaceHasTheEmptyPath) {
  EXPECT_EQ(show_diff("[1]", R"({"a":1})"), (Lines{R"(replace  [1] {"a":1})"}));
  EXPECT_EQ(show_diff("1", "2"), (Lines{"replace  1 2"}));
  auto d = json_diff_text("\"x\"", "null");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, "");
  EXPECT_EQ(d[0].op, DiffOp::replace);
  EXPECT_EQ(d[0].old_value, "\"x\"");
  EXPECT_EQ(d[0].new_value, "null");
}

TEST(JsonDiff, ArrayGrowthAddsInIncreasingOrder) {
  EXPECT_EQ(show_diff("[1]", R"([1,2,[3],{"x":4}])"), (Lines{"add /1 - 2", "add /2 - [3]", R"(add /3 - {"x":4})"}));
  EXPECT_EQ(show_diff("[]", "[true]"), (Lines{"add /0 - true"}));
}

TEST(JsonDiff, ArrayShrinkRemovesHighestIndexFirst) {
  EXPECT_EQ(show_diff(R"([1,2,3,"four"])", "[1]"), (Lines{R"(remove /3 "four" -)", "remove /2 3 -", "remove /1 2 -"}));
  // Changes in the common prefix come first, then the removals.
  EXPECT_EQ(show_diff("[1,2,3]", "[0]"), (Lines{"replace /0 1 0", "remove /2 3 -", "remove /1 2 -"}));
}

TEST(JsonDiff, EscapedKeysInPaths) {
  EXPECT_EQ(show_diff(R"({"a/b":1,"m~n":1,"~1":1,"":1})", R"({"a/b":2,"m~n":2,"~1":2,"":2})"),
            (Lines{"replace / 1 2", "replace /a~1b 1 2", "replace /m~0n 1 2", "replace /~01 1 2"}));
  EXPECT_EQ(show_diff(R"({"x":{"/":{"~":[0]}}})", R"({"x":{"/":{"~":[1]}}})"), (Lines{"replace /x/~1/~0/0 0 1"}));
}

// U+20AC < U+1F600 (surrogates D83D DE00) < U+FB33 in UTF-16 code units,
// while code point (and UTF-8 byte) order would put U+FB33 before U+1F600.
TEST(JsonDiff, UnicodeKeysInUtf16Order) {
  const std::string euro = "\xE2\x82\xAC", grin = "\xF0\x9F\x98\x80", dagesh = "\xEF\xAC\xB3";
  auto d = json_diff_text("{}", "{\"" + dagesh + "\":3,\"" + grin + "\":2,\"" + euro + "\":1,\"z\":0}");
  std::vector<std::string> paths;
  for (const auto& e : d) paths.push_back(e.path);
  EXPECT_EQ(paths, (Lines{"/z", "/" + euro, "/" + grin, "/" + dagesh}));
}

TEST(JsonDiff, ValuesAreJcsText) {
  auto d = json_diff_text(R"({"a":{"y":[1.0, "\u00e9"],"x":null}})", "{}");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(*d[0].old_value, "{\"x\":null,\"y\":[1,\"\xC3\xA9\"]}");
  EXPECT_FALSE(d[0].new_value.has_value());
}

TEST(JsonDiff, InexactNumbersThrowLikeCanonicalize) {
  // Even in a part that did not change.
  EXPECT_TRUE(throws_error([] { json_diff_text(R"({"a":9007199254740993,"b":1})", R"({"a":9007199254740993,"b":2})"); },
                           ErrorKind::inexact_number, "number 9007199254740993 cannot be represented exactly"));
  EXPECT_TRUE(throws_error([] { json_diff_text("[1]", "[1e400]"); }, ErrorKind::inexact_number, "1e400"));
  EXPECT_TRUE(throws_error([] { json_diff_text("[1", "[1]"); }, ErrorKind::invalid_json));
}

TEST(JsonDiff, OpNames) {
  EXPECT_EQ(to_string(DiffOp::add), "add");
  EXPECT_EQ(to_string(DiffOp::remove), "remove");
  EXPECT_EQ(to_string(DiffOp::replace), "replace");
}

TEST(JsonDiff, ApplyingInOrderReproducesTheTarget) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"null", "null"},
      {"1", "\"one\""},
      {"[]", "[1,2,3]"},
      {"[1,2,3]", "[]"},
      {"[1,2,3]", "[3,2,1,0]"},
      {"[[1,2,3],[4]]", "[[1],[4,5,6]]"},
      {R"({"a":1})", R"({"b":1})"},
      {R"({"a":{"b":{"c":[1,{"d":2}]}}})", R"({"a":{"b":{"c":[1,{"d":3,"e":[]}]}}})"},
      {R"({"a/b":{"~":1}})", R"({"a/b":{"~":2,"/":3}})"},
      {R"({"tiers":[{"min":0},{"min":10},{"min":20}]})", R"({"tiers":[{"min":0,"rate":1.0}]})"},
      {R"({"x":[1,2]})", R"({"x":{"0":1,"1":2}})"},
      {R"({"x":{"0":1}})", R"({"x":[1]})"},
      {R"({"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3})", R"({"\ufb33":[3],"\ud83d\ude00":{},"\u20ac":1})"},
      {R"([{"a":[[]]},{"b":null}])", R"([{"a":[[[]]]},{"b":false},{"c":"x"}])"},
      {R"({"n":1.5,"s":"","b":true})", R"({"n":1.50,"s":"","b":false,"":null})"},
      {R"({"a":[1,2,3,4,5],"b":[1]})", R"({"a":[1,9],"b":[1,2,3]})"},
  };
  for (const auto& [from, to] : pairs) {
    SCOPED_TRACE(from + " -> " + to);
    auto diff = json_diff_text(from, to);
    EXPECT_EQ(canonicalize(apply_diff(parse_json(from), diff)), canonicalize_text(to));
    // Reversed, too.
    auto back = json_diff_text(to, from);
    EXPECT_EQ(canonicalize(apply_diff(parse_json(to), back)), canonicalize_text(from));
  }
}

// ---------------------------------------------------------------------------
// JSON pointers

TEST(JsonPointer, EscapeToken) {
  EXPECT_EQ(escape_pointer_token("plain"), "plain");
  EXPECT_EQ(escape_pointer_token("a/b"), "a~1b");
  EXPECT_EQ(escape_pointer_token("m~n"), "m~0n");
  EXPECT_EQ(escape_pointer_token("~1"), "~01");  // "~" first, so "~1" does not become "/"
  EXPECT_EQ(escape_pointer_token("/~"), "~1~0");
  EXPECT_EQ(escape_pointer_token(""), "");
}

TEST(JsonPointer, Parse) {
  EXPECT_EQ(parse_pointer(""), Lines{});
  EXPECT_EQ(parse_pointer("/"), (Lines{""}));
  EXPECT_EQ(parse_pointer("//"), (Lines{"", ""}));
  EXPECT_EQ(parse_pointer("/a/0/b"), (Lines{"a", "0", "b"}));
  EXPECT_EQ(parse_pointer("/a~1b/m~0n"), (Lines{"a/b", "m~n"}));
  EXPECT_EQ(parse_pointer("/~01"), (Lines{"~1"}));
  EXPECT_EQ(parse_pointer("/~10"), (Lines{"/0"}));
  EXPECT_EQ(parse_pointer("/a/"), (Lines{"a", ""}));
  for (const std::string token : {"a/b", "~", "~1", "", "x~/y", "\xE2\x82\xAC"})
    EXPECT_EQ(parse_pointer("/" + escape_pointer_token(token)), (Lines{token})) << token;
}

TEST(JsonPointer, ParseErrors) {
  EXPECT_TRUE(throws_error([] { parse_pointer("a/b"); }, ErrorKind::invalid_input,
                           "invalid JSON pointer \"a/b\": must be empty or start with '/'"));
  EXPECT_TRUE(throws_error([] { parse_pointer("#/a"); }, ErrorKind::invalid_input, "start with '/'"));
  EXPECT_TRUE(throws_error([] { parse_pointer("/a~2"); }, ErrorKind::invalid_input,
                           "invalid JSON pointer \"/a~2\": '~' at offset 2 must be followed by '0' or '1'"));
  EXPECT_TRUE(throws_error([] { parse_pointer("/a~"); }, ErrorKind::invalid_input,
                           "'~' at offset 2 must be followed by '0' or '1'"));
  EXPECT_TRUE(throws_error([] { parse_pointer("/~/x"); }, ErrorKind::invalid_input, "offset 1"));
  EXPECT_TRUE(throws_error([] { value_at(parse_json("{}"), "x"); }, ErrorKind::invalid_input, "start with '/'"));
  EXPECT_TRUE(throws_error([] { path_within("/a", "/~x"); }, ErrorKind::invalid_input, "\"/~x\""));
  try {
    parse_pointer("nope");
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("RFC 6901"), std::string::npos) << e.hint();
  }
}

TEST(JsonPointer, ValueAtObjects) {
  JsonValue doc = parse_json(R"({"a":{"b":[10,{"c":true}]},"x/y":1,"m~n":2,"":3,"0":"zero"})");
  ASSERT_NE(value_at(doc, ""), nullptr);
  EXPECT_EQ(value_at(doc, ""), &doc);
  EXPECT_EQ(canonicalize(*value_at(doc, "/a/b/1/c")), "true");
  EXPECT_EQ(canonicalize(*value_at(doc, "/x~1y")), "1");
  EXPECT_EQ(canonicalize(*value_at(doc, "/m~0n")), "2");
  EXPECT_EQ(canonicalize(*value_at(doc, "/")), "3");
  EXPECT_EQ(canonicalize(*value_at(doc, "/0")), "\"zero\"");  // "0" is a name in an object
  EXPECT_EQ(value_at(doc, "/missing"), nullptr);
  EXPECT_EQ(value_at(doc, "/x/y"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/b/1/c/d"), nullptr);  // below a scalar
  EXPECT_EQ(value_at(doc, "/a/b/1/c/"), nullptr);
}

TEST(JsonPointer, ValueAtArrays) {
  JsonValue doc = parse_json(R"({"a":[10,20,30,[40]]})");
  EXPECT_EQ(canonicalize(*value_at(doc, "/a/0")), "10");
  EXPECT_EQ(canonicalize(*value_at(doc, "/a/2")), "30");
  EXPECT_EQ(canonicalize(*value_at(doc, "/a/3/0")), "40");
  EXPECT_EQ(value_at(doc, "/a/4"), nullptr);   // out of range
  EXPECT_EQ(value_at(doc, "/a/-"), nullptr);   // "-" is past the end, never an element
  EXPECT_EQ(value_at(doc, "/a/01"), nullptr);  // leading zero
  EXPECT_EQ(value_at(doc, "/a/00"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/+1"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/-1"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/1.0"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/ 1"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/x"), nullptr);
  EXPECT_EQ(value_at(doc, "/a/18446744073709551617"), nullptr);  // beyond size_t
  EXPECT_EQ(value_at(doc, "/a/99999999999999999999999999"), nullptr);
  EXPECT_EQ(value_at(parse_json("[]"), "/0"), nullptr);
}

TEST(JsonPointer, PathWithin) {
  EXPECT_TRUE(path_within("/a", "/a"));
  EXPECT_TRUE(path_within("/a/b", "/a"));
  EXPECT_TRUE(path_within("/a/b/0/c", "/a/b"));
  EXPECT_FALSE(path_within("/ab", "/a"));
  EXPECT_FALSE(path_within("/a", "/a/b"));
  EXPECT_FALSE(path_within("/a~1b", "/a"));  // the name "a/b", not "a" then "b"
  EXPECT_TRUE(path_within("/a~1b/c", "/a~1b"));
  EXPECT_FALSE(path_within("/a/b", "/a~1b"));
  EXPECT_TRUE(path_within("", ""));
  EXPECT_TRUE(path_within("/anything/0", ""));
  EXPECT_FALSE(path_within("", "/a"));
  EXPECT_TRUE(path_within("/a/", "/a"));  // the name "" under "a"
  EXPECT_FALSE(path_within("/a", "/a/"));
  EXPECT_FALSE(path_within("/a/b", "/a/"));
  EXPECT_TRUE(path_within("/~0/x", "/~0"));
  EXPECT_FALSE(path_within("/~0x", "/~0"));
}

// ---------------------------------------------------------------------------
// Classification

namespace {

Classification classify_text(std::string_view base, std::string_view hotfixed, std::string_view planned) {
  return classify(json_diff_text(base, hotfixed), parse_json(planned));
}

}  // namespace

TEST(Classification, Names) {
  EXPECT_EQ(to_string(Classification::included), "included");
  EXPECT_EQ(to_string(Classification::overrides), "overrides");
  EXPECT_EQ(to_string(Classification::unknown), "unknown");
}

TEST(Classification, Table) {
  const std::string base = R"({"rate":1,"tiers":[1,2,3],"old":"x","keep":{"a":1}})";
  const std::string hotfix = R"({"rate":2,"tiers":[1,2,3],"keep":{"a":1,"new":true}})";  // replace, remove, add
  struct Case {
    const char* planned;
    Classification expected;
  };
  const Case cases[] = {
      // carries all three changes, with unrelated edits and another number literal
      {R"({"rate":2.0,"tiers":[1,2,3,4],"keep":{"a":5,"new":true},"more":1})", Classification::included},
      // base value at a replaced path
      {R"({"rate":1,"tiers":[],"keep":{"a":1,"new":true}})", Classification::overrides},
      // lacks an added path
      {R"({"rate":2,"keep":{"a":1}})", Classification::overrides},
      // still has a removed path with its base value
      {R"({"rate":2,"old":"x","keep":{"new":true}})", Classification::overrides},
      // a third value at the replaced path
      {R"({"rate":3,"keep":{"new":true}})", Classification::unknown},
      // another value at the added path
      {R"({"rate":2,"keep":{"new":false}})", Classification::unknown},
      // another value at the removed path
      {R"({"rate":2,"old":"y","keep":{"new":true}})", Classification::unknown},
      // mixing: one unknown and one overrides -> overrides
      {R"({"rate":3,"old":"x","keep":{"new":true}})", Classification::overrides},
      // mixing: carried + unknown -> unknown
      {R"({"rate":2,"old":["x"],"keep":{"new":true}})", Classification::unknown},
      // a different type altogether: every path is absent
      {R"([1,2])", Classification::overrides},
      {"null", Classification::overrides},
  };
  for (const Case& c : cases) EXPECT_EQ(classify_text(base, hotfix, c.planned), c.expected) << c.planned;
}

TEST(Classification, ArrayEntries) {
  // The hotfix shrank [1,2,3] to [1] and grew another array.
  const std::string base = R"({"a":[1,2,3],"b":[]})";
  const std::string hotfix = R"({"a":[1],"b":["x"]})";
  EXPECT_EQ(classify_text(base, hotfix, R"({"a":[1],"b":["x"]})"), Classification::included);
  EXPECT_EQ(classify_text(base, hotfix, R"({"a":[1],"b":["x","y"]})"), Classification::included);
  EXPECT_EQ(classify_text(base, hotfix, R"({"a":[1,2,3],"b":["x"]})"), Classification::overrides);
  EXPECT_EQ(classify_text(base, hotfix, R"({"a":[1],"b":[]})"), Classification::overrides);
  EXPECT_EQ(classify_text(base, hotfix, R"({"a":[1,7],"b":["x"]})"), Classification::unknown);
}

TEST(Classification, RootReplace) {
  EXPECT_EQ(classify_text("[1]", R"({"a":1})", R"({"a":1.0})"), Classification::included);
  EXPECT_EQ(classify_text("[1]", R"({"a":1})", "[1]"), Classification::overrides);
  EXPECT_EQ(classify_text("[1]", R"({"a":1})", R"({"a":2})"), Classification::unknown);
}

TEST(Classification, EmptyDiffIsIncluded) {
  EXPECT_EQ(classify({}, parse_json(R"({"anything":1})")), Classification::included);
  EXPECT_EQ(classify_text(R"({"a":1})", R"({"a":1.0})", "{}"), Classification::included);
}

TEST(Classification, EntryValuesAreCompared) {
  // Entry texts that are not JCS (e.g. read back from storage) still compare by value.
  std::vector<DiffEntry> diff = {{"/a", DiffOp::replace, std::string("1.0"), std::string("{ \"y\":2, \"x\":1 }")}};
  EXPECT_EQ(classify(diff, parse_json(R"({"a":{"x":1,"y":2}})")), Classification::included);
  EXPECT_EQ(classify(diff, parse_json(R"({"a":1})")), Classification::overrides);
  std::vector<DiffEntry> broken = {{"/a", DiffOp::add, std::nullopt, std::nullopt}};
  EXPECT_TRUE(throws_error([&] { classify(broken, parse_json("{}")); }, ErrorKind::invalid_input,
                           "diff entry add at \"/a\" has no new_value"));
  std::vector<DiffEntry> bad_path = {{"a", DiffOp::remove, std::string("1"), std::nullopt}};
  EXPECT_TRUE(throws_error([&] { classify(bad_path, parse_json("{}")); }, ErrorKind::invalid_input,
                           "invalid JSON pointer \"a\""));
}

TEST(Classification, Combine) {
  using C = Classification;
  EXPECT_EQ(combine({}), C::included);
  EXPECT_EQ(combine({C::included}), C::included);
  EXPECT_EQ(combine({C::included, C::included}), C::included);
  EXPECT_EQ(combine({C::included, C::unknown}), C::unknown);
  EXPECT_EQ(combine({C::unknown, C::unknown}), C::unknown);
  EXPECT_EQ(combine({C::included, C::overrides}), C::overrides);
  EXPECT_EQ(combine({C::unknown, C::overrides, C::included}), C::overrides);
  EXPECT_EQ(combine({C::overrides}), C::overrides);
}

// ---------------------------------------------------------------------------
// Randomized property test: for random pairs (one a mutation of the other,
// with number literals that differ only in spelling, awkward and non-BMP
// names), applying the diff in order gives the target, diffing a value with
// itself gives nothing, the diff does not depend on member order, the target
// classifies as included and the source (for a non-empty diff) as overrides.

namespace {

class RandomJson {
public:
  explicit RandomJson(std::uint32_t seed) : rng_(seed) {}

  JsonValue value(int depth) {
    int kind = pick(depth > 0 ? 7 : 4);
    JsonValue v;
    switch (kind) {
      case 0: v.type = T::null; break;
      case 1:
        v.type = T::boolean;
        v.boolean = pick(2) == 0;
        break;
      case 2:
        v.type = T::number;
        v.text = numbers[pick(std::size(numbers))];
        break;
      case 3:
        v.type = T::string;
        v.text = strings[pick(std::size(strings))];
        break;
      case 4:
      case 5:
        v.type = T::array;
        for (int i = pick(5); i > 0; --i) v.items.push_back(value(depth - 1));
        break;
      default:
        v.type = T::object;
        for (int i = pick(5); i > 0; --i) {
          std::string k = keys[pick(std::size(keys))];
          if (!has(v, k)) v.members.emplace_back(k, value(depth - 1));
        }
    }
    return v;
  }

  // Mostly an object or array at the top, as rule bodies are.
  JsonValue document(int depth) {
    JsonValue v = value(depth);
    while (pick(8) != 0 && v.type != T::object && v.type != T::array) v = value(depth);
    return v;
  }

  JsonValue mutate(const JsonValue& v, int depth) {
    int r = pick(10);
    if (r == 0) return value(depth);  // anything, often another type
    if (r <= 3) return respell(v);    // the same value, maybe other literals
    JsonValue out = v;
    if (v.type == T::array) {
      for (auto& item : out.items) item = mutate(item, depth - 1);
      int change = pick(3);
      if (change == 0)
        for (int i = pick(4); i > 0; --i) out.items.push_back(value(depth - 1));
      if (change == 1 && !out.items.empty())
        out.items.resize(static_cast<std::size_t>(pick(static_cast<int>(out.items.size()))));
    } else if (v.type == T::object) {
      for (auto& m : out.members) m.second = mutate(m.second, depth - 1);
      if (pick(3) == 0 && !out.members.empty())
        out.members.erase(out.members.begin() + pick(static_cast<int>(out.members.size())));
      if (pick(3) == 0) {
        std::string k = keys[pick(std::size(keys))];
        if (!has(out, k)) out.members.emplace_back(k, value(depth - 1));
      }
      std::shuffle(out.members.begin(), out.members.end(), rng_);
    } else if (v.type != T::null && pick(2) == 0) {
      return value(0);
    }
    return out;
  }

  // Same value: number literals swapped for equal ones, members shuffled.
  JsonValue respell(const JsonValue& v) {
    JsonValue out = v;
    if (v.type == T::number) {
      for (const auto& group : equal_numbers)
        if (std::find(group.begin(), group.end(), v.text) != group.end())
          out.text = group[pick(static_cast<int>(group.size()))];
    }
    for (auto& item : out.items) item = respell(item);
    for (auto& m : out.members) m.second = respell(m.second);
    std::shuffle(out.members.begin(), out.members.end(), rng_);
    return out;
  }

  void shuffle_members(JsonValue& v) {
    for (auto& item : v.items) shuffle_members(item);
    for (auto& m : v.members) shuffle_members(m.second);
    std::shuffle(v.members.begin(), v.members.end(), rng_);
  }

private:
  int pick(std::size_t n) { return static_cast<int>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_)); }
  int pick(int n) { return pick(static_cast<std::size_t>(n)); }
  static bool has(const JsonValue& obj, const std::string& k) {
    return std::any_of(obj.members.begin(), obj.members.end(), [&](const auto& m) { return m.first == k; });
  }

  static inline const char* const numbers[] = {"0", "-0", "1", "1.0", "1e0", "2", "2.5", "-3", "100", "1E2", "0.1"};
  static inline const std::vector<std::vector<std::string>> equal_numbers = {{"0", "-0", "0.0", "0e5"},
                                                                             {"1", "1.0", "1e0", "10e-1"},
                                                                             {"100", "1E2", "100.00"},
                                                                             {"2.5", "25e-1"}};
  static inline const char* const strings[] = {"", "x", "y", "/", "~", "1", "\xC3\xA9"};
  static inline const char* const keys[] = {
      "a", "b", "c", "a/b", "~", "~1", "", "0", "1", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xAC\xB3"};
  std::mt19937 rng_;
};

}  // namespace

TEST(JsonDiff, RandomPairsApplyToTheTarget) {
  RandomJson gen(20240611u);
  int non_empty = 0, adds = 0, removes = 0, replaces = 0, nested = 0;
  for (int round = 0; round < 500; ++round) {
    JsonValue from = gen.document(4);
    JsonValue to = round % 5 == 0 ? gen.document(4) : gen.mutate(from, 4);
    const std::string from_text = canonicalize(from), to_text = canonicalize(to);
    SCOPED_TRACE("round " + std::to_string(round) + ": " + from_text + " -> " + to_text);

    std::vector<DiffEntry> diff = json_diff(from, to);
    EXPECT_EQ(diff.empty(), from_text == to_text);
    if (!diff.empty()) ++non_empty;
    for (const DiffEntry& e : diff) {
      adds += e.op == DiffOp::add;
      removes += e.op == DiffOp::remove;
      replaces += e.op == DiffOp::replace;
      nested += parse_pointer(e.path).size() >= 2;
    }
    JsonValue applied;
    try {
      applied = apply_diff(from, diff);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    EXPECT_EQ(canonicalize(applied), to_text);

    EXPECT_TRUE(json_diff(to, to).empty());
    JsonValue from2 = from, to2 = to;
    gen.shuffle_members(from2);
    gen.shuffle_members(to2);
    std::vector<DiffEntry> diff2 = json_diff(from2, to2);
    ASSERT_EQ(diff2.size(), diff.size());
    for (std::size_t i = 0; i < diff.size(); ++i) EXPECT_EQ(show(diff2[i]), show(diff[i]));

    EXPECT_EQ(classify(diff, to), Classification::included);
    if (!diff.empty()) {
      EXPECT_EQ(classify(diff, from), Classification::overrides);
    }
  }
  // The generator is not degenerate (thresholds well below what the seed gives).
  EXPECT_GT(non_empty, 250);
  EXPECT_GT(adds, 100);
  EXPECT_GT(removes, 100);
  EXPECT_GT(replaces, 100);
  EXPECT_GT(nested, 100);
}
