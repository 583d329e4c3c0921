// The server's SHA-256 (see pg_sha256.hpp). No PostgreSQL calls here, so
// nothing can ereport: failures are C++ exceptions inside guarded().
#include "pg_sha256.hpp"

#include "rulekeeper/error.hpp"

#include <openssl/evp.h>

namespace rulekeeper::pg {
namespace {

class ServerSha256 final : public Sha256 {
public:
  Digest digest(std::string_view data) const override {
    // Fetched once per backend; a backend is single-threaded.
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    static EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (md == nullptr || ctx == nullptr) throw Error(ErrorKind::internal, "OpenSSL SHA-256 is not available");
    Digest out{};
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 || EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != out.size())
      throw Error(ErrorKind::internal, "OpenSSL SHA-256 failed");
    return out;
  }
};

}  // namespace

const Sha256& server_sha256() {
  static const ServerSha256 instance;
  return instance;
}

}  // namespace rulekeeper::pg
