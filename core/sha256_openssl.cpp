// The OpenSSL SHA-256 used by rulectl, the tests and the benchmarks. The
// extension does not link this file: inside the server it supplies one built
// on pg_cryptohash, so the backend never loads a second crypto library.
#include "rulekeeper/error.hpp"
#include "rulekeeper/sha256.hpp"

#include <openssl/evp.h>

namespace rulekeeper {
namespace {

// Stateless: EVP_Digest is one-shot with its own context, so one instance is
// safe to share between threads.
class OpenSslSha256 final : public Sha256 {
public:
  Digest digest(std::string_view data) const override {
    Digest d{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 || len != d.size())
      throw Error(ErrorKind::internal, "OpenSSL EVP_Digest(SHA-256) failed");
    return d;
  }
};

}  // namespace

const Sha256& openssl_sha256() {
  static const OpenSslSha256 instance;
  return instance;
}

}  // namespace rulekeeper
