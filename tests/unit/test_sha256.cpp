// Tests of core/sha256.cpp and core/sha256_openssl.cpp: the NIST FIPS 180-2
// vectors (the same ones the extension's pg_cryptohash implementation is
// checked against) and the hex encoding both ways.
#include "rulekeeper/sha256.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {
std::string hex_of(std::string_view data) { return to_hex(openssl_sha256().digest(data)); }
}  // namespace

TEST(Sha256, NistVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, HashesEmbeddedNulBytes) {
  // printf 'a\0b' | sha256sum
  EXPECT_EQ(hex_of(std::string("a\0b", 3)), "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

TEST(Sha256, OneSharedInstance) { EXPECT_EQ(&openssl_sha256(), &openssl_sha256()); }

TEST(Sha256, HexRoundTrip) {
  Digest d = openssl_sha256().digest("abc");
  std::string hex = to_hex(d);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(digest_from_hex(hex), d);
  Digest zero{};
  EXPECT_EQ(to_hex(zero), std::string(64, '0'));
  Digest seq{};
  for (std::size_t i = 0; i < seq.size(); ++i) seq[i] = static_cast<std::uint8_t>(i * 8 + 7);
  EXPECT_EQ(to_hex(seq), "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
}

TEST(Sha256, FromHexAcceptsUppercase) {
  EXPECT_EQ(digest_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
            openssl_sha256().digest("abc"));
}

TEST(Sha256, FromHexRejectsAnythingButSixtyFourHexDigits) {
  const std::string good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  for (const std::string& bad : {std::string(), good.substr(1), good + "0", "g" + good.substr(1), " " + good.substr(1),
                                 good.substr(0, 63) + "-", "0x" + good.substr(2)}) {
    EXPECT_TRUE(throws_error([&] { digest_from_hex(bad); }, ErrorKind::invalid_input, "expected exactly 64 hex digits"))
        << bad;
  }
  EXPECT_TRUE(throws_error([&] { digest_from_hex("xyz"); }, ErrorKind::invalid_input, "invalid SHA-256 digest 'xyz'"));
}
