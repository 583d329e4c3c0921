// pg_cryptohash-backed SHA-256 (see pg_sha256.hpp).
#include "pg_sha256.hpp"

#include "guard.hpp"

extern "C" {
#include "common/cryptohash.h"
}

namespace rulekeeper::pg {
namespace {

class ServerSha256 final : public Sha256 {
public:
    Digest digest(std::string_view data) const override {
        Digest out{};
        const char* bytes = data.data();
        std::size_t len = data.size();
        uint8* dest = out.data();
        pg_call([&] {
            pg_cryptohash_ctx* ctx = pg_cryptohash_create(PG_SHA256);
            if (ctx == nullptr) ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
            if (pg_cryptohash_init(ctx) < 0 ||
                pg_cryptohash_update(ctx, reinterpret_cast<const uint8*>(bytes), len) < 0 ||
                pg_cryptohash_final(ctx, dest, 32) < 0) {
                const char* why = pg_cryptohash_error(ctx);
                pg_cryptohash_free(ctx);
                ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("SHA-256 failed: %s", why)));
            }
            pg_cryptohash_free(ctx);
        });
        return out;
    }
};

}  // namespace

const Sha256& server_sha256() {
    static const ServerSha256 instance;
    return instance;
}

}  // namespace rulekeeper::pg
