// Ed25519 through OpenSSL's libcrypto: every EVP/BIO object is owned by a
// unique_ptr, so each one is freed on every path, the throwing ones included.
// Nothing here calls PostgreSQL.
#include "rulekeeper/error.hpp"
#include "rulekeeper/signature.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace rulekeeper {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// OpenSSL keeps a per-thread error queue: empty it so that a failure here
// never shows up as a stale error in the next OpenSSL user of the process.
[[noreturn]] void fail(ErrorKind kind, const std::string& message) {
  ERR_clear_error();
  throw Error(kind, message);
}

Bio memory_bio(std::string_view text) {
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) fail(ErrorKind::internal, "out of memory reading a key");
  return bio;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string raw_public(EVP_PKEY* key) {
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != 32)
    fail(ErrorKind::invalid_input, "not an Ed25519 key");
  return raw;
}

Pkey public_from_raw(std::string_view raw) {
  if (raw.size() != 32) fail(ErrorKind::invalid_input, "an Ed25519 public key is 32 bytes");
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()),
                                       raw.size()));
  if (!key) fail(ErrorKind::invalid_input, "not an Ed25519 public key");
  return key;
}

}  // namespace

SigningKey::SigningKey(std::string_view pem) : key_(nullptr) {
  if (pem.size() > 64 * 1024) fail(ErrorKind::invalid_input, "the signing key file is not an Ed25519 PEM private key");
  Bio bio = memory_bio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519)
    fail(ErrorKind::invalid_input,
         "the signing key file is not an Ed25519 PEM private key (make one with: openssl genpkey -algorithm ed25519)");
  ERR_clear_error();
  key_ = key.release();
}

SigningKey::~SigningKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::string SigningKey::raw_public_key() const { return raw_public(static_cast<EVP_PKEY*>(key_)); }

std::string SigningKey::public_key_pem() const { return public_key_pem_from_raw(raw_public_key()); }

std::string SigningKey::sign(std::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) fail(ErrorKind::internal, "out of memory signing a bundle");
  // Ed25519 is one-shot: no digest, the whole message at once.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_)) != 1)
    fail(ErrorKind::internal, "the signing key cannot sign");
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != 64)
    fail(ErrorKind::internal, "signing the bundle failed");
  return sig;
}

std::string SigningKey::generate_pem() {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) fail(ErrorKind::internal, "cannot make an Ed25519 key");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1) fail(ErrorKind::internal, "cannot make an Ed25519 key");
  Pkey key(raw);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail(ErrorKind::internal, "cannot write an Ed25519 key");
  return bio_text(bio.get());
}

std::string raw_public_key_from_pem(std::string_view pem) {
  if (pem.size() > 64 * 1024) fail(ErrorKind::invalid_input, "not an Ed25519 public key in PEM form");
  Bio bio = memory_bio(pem);
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519)
    fail(ErrorKind::invalid_input,
         "not an Ed25519 public key in PEM form (\"-----BEGIN PUBLIC KEY-----\"; signing_public_key() shows one)");
  ERR_clear_error();
  return raw_public(key.get());
}

std::string public_key_pem_from_raw(std::string_view raw) {
  Pkey key = public_from_raw(raw);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) fail(ErrorKind::internal, "cannot write a public key");
  return bio_text(bio.get());
}

bool verify_signature(std::string_view raw_public_key, std::string_view message, std::string_view signature) {
  if (signature.size() != 64 || raw_public_key.size() != 32) return false;
  Pkey key = public_from_raw(raw_public_key);
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) fail(ErrorKind::internal, "out of memory verifying a signature");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    fail(ErrorKind::internal, "cannot verify with this key");
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return ok == 1;
}

}  // namespace rulekeeper
