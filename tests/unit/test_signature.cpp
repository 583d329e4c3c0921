// Tests of core/signature.cpp and core/ed25519_openssl.cpp: the signed
// message is the one contract.md "Bundle signatures" defines, Ed25519 agrees
// with RFC 8032's first test vector, a changed message or signature does not
// verify, and a bundle's checksum leaves its signature out (so signing after
// sealing keeps the bundle valid).
#include "rulekeeper/signature.hpp"

#include "rulekeeper/bundle.hpp"
#include "rulekeeper/error.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;

namespace {

const Sha256& sha() { return openssl_sha256(); }

// RFC 8032 section 7.1, TEST 1 (empty message); the private key as the PKCS#8
// PEM `openssl genpkey -algorithm ed25519` writes.
const char* const kPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
const char* const kPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const char* const kSignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
    "655141438e7a100b";

}  // namespace

TEST(Signature, SignedMessageIsDomainFormatAndChecksum) {
  const std::string m = signing_message("rulekeeper-bundle/1", std::string(64, 'a'));
  EXPECT_EQ(m, std::string("rulekeeper-signature/1") + '\0' + "rulekeeper-bundle/1" + '\0' + std::string(64, 'a'));
}

TEST(Signature, Rfc8032Vector) {
  const SigningKey key(kPem);
  EXPECT_EQ(hex_encode(key.raw_public_key()), kPublic);
  EXPECT_EQ(hex_encode(key.sign("")), kSignature);
  EXPECT_TRUE(verify_signature(hex_decode(kPublic, "key"), "", hex_decode(kSignature, "sig")));
  EXPECT_EQ(key_id_of(sha(), key.raw_public_key()), to_hex(sha().digest(hex_decode(kPublic, "key"))));
  // The public key round-trips through PEM, as trust_key reads it.
  EXPECT_EQ(hex_encode(raw_public_key_from_pem(key.public_key_pem())), kPublic);
}

TEST(Signature, ChangedMessageSignatureOrKeyDoesNotVerify) {
  const SigningKey key(SigningKey::generate_pem());
  const std::string message = signing_message("rulekeeper-bundle/1", std::string(64, 'b'));
  std::string sig = key.sign(message);
  EXPECT_TRUE(verify_signature(key.raw_public_key(), message, sig));
  EXPECT_FALSE(
      verify_signature(key.raw_public_key(), signing_message("rulekeeper-changes/1", std::string(64, 'b')), sig));
  EXPECT_FALSE(verify_signature(SigningKey(SigningKey::generate_pem()).raw_public_key(), message, sig));
  sig[10] = static_cast<char>(sig[10] ^ 1);
  EXPECT_FALSE(verify_signature(key.raw_public_key(), message, sig));
  EXPECT_FALSE(verify_signature(key.raw_public_key(), message, sig.substr(0, 63)));
}

TEST(Signature, NotAnEd25519KeyIsRefused) {
  EXPECT_THROW(SigningKey("not a key"), Error);
  EXPECT_THROW(raw_public_key_from_pem(kPem), Error);  // a private key is not a public key
  EXPECT_THROW(hex_decode("zz", "x"), Error);
}

TEST(Signature, TheBundleChecksumLeavesTheSignatureOut) {
  JsonValue b = parse_json(
      R"({"format": "rulekeeper-bundle/1", "source": {"site": "e1", "environment": "e1"}, "rules": [],
          "versions": []})");
  const std::string plain = seal_bundle(b, sha());
  JsonValue sig;
  sig.type = JsonValue::Type::string;
  sig.text = "anything";
  b.members.emplace_back("signature", sig);
  const std::string with_signature = seal_bundle(b, sha());
  const BundleSummary a = validate_bundle(plain, sha());
  const BundleSummary s = validate_bundle(with_signature, sha());
  EXPECT_EQ(a.bundle_sha256, s.bundle_sha256);
}
