// Tests of core/checksum.cpp: content checksums, entry digests and buckets
// against values computed independently with sha256sum, and the AdHash set
// sum's arithmetic modulo 2^256.
#include "rulekeeper/checksum.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {

const Sha256& sha() { return openssl_sha256(); }

SetSum from_hex(const std::string& hex) { return SetSum::from_hex(hex); }

const std::string kOnes(64, 'f');
const std::string kZeros(64, '0');
const std::string kOne = std::string(63, '0') + "1";

}  // namespace

TEST(Checksum, ContentSha256OfKnownBodies) {
  // printf '{}' | sha256sum
  EXPECT_EQ(content_sha256(sha(), "{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  // printf '{"a":1,"b":[true,null,"x"]}' | sha256sum
  const std::string expected = "eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1";
  EXPECT_EQ(content_sha256(sha(), R"({"a":1,"b":[true,null,"x"]})"), expected);
  // Same body, other key order, whitespace and number spelling: same checksum.
  EXPECT_EQ(content_sha256(sha(), " {\n \"b\" : [ true , null , \"\\u0078\" ] , \"a\" : 1.0e0 }\n"), expected);
}

TEST(Checksum, ContentSha256RequiresAnObject) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "a rule body must be a JSON object, not an array"},
      {"\"x\"", "a rule body must be a JSON object, not a string"},
      {"1", "a rule body must be a JSON object, not a number"},
      {"true", "a rule body must be a JSON object, not a boolean"},
      {"null", "a rule body must be a JSON object, not null"},
  };
  for (const auto& [body, message] : cases)
    EXPECT_TRUE(throws_error([&] { content_sha256(sha(), body); }, ErrorKind::invalid_input, message)) << body;
}

TEST(Checksum, ContentSha256PassesParseAndNumberErrorsThrough) {
  EXPECT_TRUE(throws_error([] { content_sha256(sha(), "{\"a\":}"); }, ErrorKind::invalid_json, "byte offset 5"));
  EXPECT_TRUE(throws_error([] { content_sha256(sha(), "{\"a\":1,\"a\":2}"); }, ErrorKind::invalid_json,
                           "duplicate object key"));
  EXPECT_TRUE(throws_error([] { content_sha256(sha(), "{\"id\":9007199254740993}"); }, ErrorKind::inexact_number,
                           "9007199254740993"));
}

TEST(Checksum, EntryDigestKnownValues) {
  const std::string empty_body = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  // printf 'k\0001\000%s' 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a | sha256sum
  EXPECT_EQ(to_hex(entry_digest(sha(), "k", "1", empty_body)),
            "64f238567b7328d67548a1b54e2adabd80671a0421fac53e83ab754b35e152f0");
  // printf 'rule-42\0003.1\000%s' eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1 | sha256sum
  EXPECT_EQ(to_hex(entry_digest(sha(), "rule-42", "3.1",
                                "eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1")),
            "7aebcf97c389f7f8f2e671eff46cbd89c982b0edb36c1365c910eb7c8181b116");
}

TEST(Checksum, EntryDigestSeparatesItsFields) {
  const std::string h = kZeros;
  EXPECT_NE(entry_digest(sha(), "k1", "2", h), entry_digest(sha(), "k", "12", h));
  EXPECT_NE(entry_digest(sha(), "k", "1", h), entry_digest(sha(), "k", "1.1", h));
}

TEST(Checksum, BucketOfKnownKeys) {
  // printf 'pricing.discount' | sha256sum  -> 37d3ef...: first 12 bits 0x37d
  EXPECT_EQ(bucket_of(sha(), "pricing.discount"), 0x37d);
  // printf 'k' | sha256sum  -> 8254c3...: first 12 bits 0x825
  EXPECT_EQ(bucket_of(sha(), "k"), 0x825);
  // printf '' | sha256sum  -> e3b0c4...
  EXPECT_EQ(bucket_of(sha(), ""), 0xe3b);
}

TEST(Checksum, BucketsStayInRange) {
  EXPECT_EQ(kBucketCount, 4096);
  std::vector<int> seen(kBucketCount, 0);
  for (int i = 0; i < 20000; ++i) {
    int b = bucket_of(sha(), "rule-" + std::to_string(i));
    ASSERT_GE(b, 0);
    ASSERT_LT(b, kBucketCount);
    ++seen[static_cast<std::size_t>(b)];
  }
  // 20000 keys over 4096 buckets: nearly all buckets are hit if bits are used right.
  EXPECT_GT(std::count_if(seen.begin(), seen.end(), [](int n) { return n > 0; }), 3900);
}

TEST(SetSum, EmptySetIsZero) {
  SetSum s;
  EXPECT_TRUE(s.is_zero());
  EXPECT_EQ(s.hex(), kZeros);
  EXPECT_EQ(SetSum::from_hex(kZeros), s);
  EXPECT_STREQ(kChecksumAlgorithm, "adhash-sha256-v1");
}

TEST(SetSum, CarryRunsAcrossAllThirtyTwoBytes) {
  SetSum s = from_hex(kOnes);
  s.add(digest_from_hex(kOne));
  EXPECT_TRUE(s.is_zero());  // 2^256 - 1 + 1 = 0 mod 2^256
  EXPECT_EQ(from_hex(kOne).add(from_hex(kOnes)).hex(), kZeros);
  EXPECT_EQ(from_hex("00" + std::string(62, 'f')).add(from_hex(kOne)).hex(), "01" + std::string(62, '0'));
  EXPECT_EQ(from_hex(kOnes).add(from_hex(kOnes)).hex(), std::string(63, 'f') + "e");
  // Big-endian: the last byte is the least significant.
  EXPECT_EQ(from_hex(kOne).add(from_hex(kOne)).hex(), std::string(63, '0') + "2");
  EXPECT_EQ(from_hex(std::string(62, '0') + "ff").add(from_hex(kOne)).hex(), std::string(61, '0') + "100");
}

TEST(SetSum, BorrowRunsAcrossAllThirtyTwoBytes) {
  EXPECT_EQ(SetSum().subtract(digest_from_hex(kOne)).hex(), kOnes);  // 0 - 1 = 2^256 - 1
  EXPECT_EQ(from_hex("01" + std::string(62, '0')).subtract(from_hex(kOne)).hex(), "00" + std::string(62, 'f'));
  EXPECT_TRUE(from_hex(kOnes).subtract(from_hex(kOnes)).is_zero());
}

TEST(SetSum, SubtractUndoesAdd) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100; ++i) {
    Digest a{}, b{};
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    SetSum s(a);
    s.add(b);
    s.subtract(b);
    EXPECT_EQ(s, SetSum(a));
    EXPECT_EQ(SetSum(a).subtract(b).add(b), SetSum(a));
  }
}

TEST(SetSum, OrderIndependent) {
  std::vector<Digest> digests;
  for (int i = 0; i < 300; ++i)
    digests.push_back(entry_digest(sha(), "rule-" + std::to_string(i), std::to_string(i % 7 + 1),
                                   content_sha256(sha(), "{\"n\":" + std::to_string(i) + "}")));
  SetSum forward;
  for (const auto& d : digests) forward.add(d);
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(digests.begin(), digests.end(), rng);
    SetSum shuffled;
    for (const auto& d : digests) shuffled.add(d);
    EXPECT_EQ(shuffled, forward);
  }
  // Removing everything in yet another order leaves the empty set.
  std::shuffle(digests.begin(), digests.end(), rng);
  SetSum drained = forward;
  for (const auto& d : digests) drained.subtract(d);
  EXPECT_TRUE(drained.is_zero());
  // Sums of parts (buckets) add up to the whole.
  SetSum even, odd;
  for (std::size_t i = 0; i < digests.size(); ++i) (i % 2 ? odd : even).add(digests[i]);
  EXPECT_EQ(even.add(odd), forward);
}

TEST(SetSum, HexRoundTripAndComparison) {
  const std::string h = "7aebcf97c389f7f8f2e671eff46cbd89c982b0edb36c1365c910eb7c8181b116";
  SetSum s = from_hex(h);
  EXPECT_EQ(s.hex(), h);
  EXPECT_EQ(to_hex(s.bytes()), h);
  EXPECT_EQ(from_hex("7AEBCF97C389F7F8F2E671EFF46CBD89C982B0EDB36C1365C910EB7C8181B116"), s);
  EXPECT_NE(s, SetSum());
  EXPECT_FALSE(s.is_zero());
  EXPECT_TRUE(
      throws_error([] { SetSum::from_hex("abc"); }, ErrorKind::invalid_input, "expected exactly 64 hex digits"));
}
