// Tests of core/journal_chain.cpp: the canonical bytes and hash of a journal
// entry against values computed independently (Python's json/hashlib over
// the text written out by hand), and the fixed text form of recorded_at.
#include "rulekeeper/journal_chain.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {

const std::string kPayload = canonicalize_text(R"({"to":"sl_validated","from":"sl_failed","reason":"tab\there"})");

JournalEntryFields sample() {
  JournalEntryFields e;
  e.change_id = "0b6c2b7e-5f0e-4c43-9d3b-3a1f2f4c8e11";
  e.origin_site = "ipc2";
  e.origin_incarnation = 2;
  e.origin_seq = 17;
  e.kind = "qualification";
  e.rule_key = "pricing/rate";
  e.label = "1";
  e.payload_jcs = kPayload;
  e.actor = "alice";
  e.recorded_at = "2026-12-06T10:06:06.123456Z";
  return e;
}

}  // namespace

TEST(JournalChain, CanonicalFormIsJcsOfTheFieldsWithPrev) {
  EXPECT_EQ(journal_entry_canonical(kGenesisHash, sample()),
            R"({"actor":"alice","change_id":"0b6c2b7e-5f0e-4c43-9d3b-3a1f2f4c8e11","kind":"qualification",)"
            R"("label":"1","origin_incarnation":2,"origin_seq":17,"origin_site":"ipc2",)"
            R"("payload":{"from":"sl_failed","reason":"tab\there","to":"sl_validated"},)"
            R"("prev":"0000000000000000000000000000000000000000000000000000000000000000",)"
            R"("recorded_at":"2026-12-06T10:06:06.123456Z","rule_key":"pricing/rate"})");
}

TEST(JournalChain, HashMatchesAnIndependentComputation) {
  EXPECT_EQ(journal_entry_hash(openssl_sha256(), kGenesisHash, sample()),
            "3ed11a31cf37ebc7414af8acd39a3b5004d4aba91410733631c5269afd54f866");
  JournalEntryFields e = sample();
  e.rule_key.reset();
  e.label.reset();
  EXPECT_EQ(journal_entry_hash(openssl_sha256(), kGenesisHash, e),
            "4e1caa9272e4565035840a5e6ef9b4df9f64d22a5e8f68bbbe838ea0b91eee63");
}

TEST(JournalChain, EveryFieldAndThePreviousHashChangeTheHash) {
  const std::string base = journal_entry_hash(openssl_sha256(), kGenesisHash, sample());
  const std::string other_prev(64, 'a');
  EXPECT_NE(journal_entry_hash(openssl_sha256(), other_prev, sample()), base);
  auto differs = [&](auto&& edit) {
    JournalEntryFields e = sample();
    edit(e);
    return journal_entry_hash(openssl_sha256(), kGenesisHash, e) != base;
  };
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.change_id = "0b6c2b7e-5f0e-4c43-9d3b-3a1f2f4c8e12"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.origin_site = "ipc1"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.origin_incarnation = 3; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.origin_seq = 18; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.kind = "activation"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.rule_key = "pricing/rat"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.label.reset(); }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.label = ""; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.payload_jcs = "{}"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.actor = "mallory"; }));
  EXPECT_TRUE(differs([](JournalEntryFields& e) { e.recorded_at = "2026-12-06T10:06:06.123457Z"; }));
}

TEST(JournalChain, RefusesABadPreviousHashOrPayload) {
  EXPECT_TRUE(throws_error([] { journal_entry_canonical(std::string(63, '0'), sample()); }, ErrorKind::invalid_input));
  EXPECT_TRUE(throws_error([] { journal_entry_canonical(std::string(64, 'A'), sample()); }, ErrorKind::invalid_input));
  JournalEntryFields e = sample();
  e.payload_jcs = "[]";
  EXPECT_TRUE(throws_error([&] { journal_entry_canonical(kGenesisHash, e); }, ErrorKind::invalid_input));
}

TEST(JournalChain, RecordedAtHasOneFixedForm) {
  EXPECT_EQ(format_recorded_at(1796551566123456LL), "2026-12-06T10:06:06.123456Z");
  EXPECT_EQ(format_recorded_at(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_recorded_at(951782400000000LL), "2000-02-29T00:00:00.000000Z");
  EXPECT_EQ(format_recorded_at(-2203891200000001LL), "1900-02-28T23:59:59.999999Z");
  EXPECT_EQ(format_recorded_at(-1), "1969-12-31T23:59:59.999999Z");
}
