// Bundle signatures at the server (docs/keys.md, docs/design/contract.md
// "Bundle signatures"):
//
//  - _sign_checksum(format, bundle_sha256): the signature block of a bundle,
//    signed with this site's key (rulekeeper.signing_key_file), or NULL when
//    no key is configured. Superuser only (export_release/export_changes call
//    it as their owner): whoever can call it can sign anything.
//  - _signing_key_info(): {key_id, public_key} of this site's key, or NULL.
//  - _ed25519_public_key(pem): the raw 32 bytes of a PEM public key.
//  - _verify_bundle_signature(public_key, format, bundle_sha256, value_hex).
//
// The key file is read and checked with plain PostgreSQL/POSIX calls while no
// C++ object is alive; the OpenSSL work (core/ed25519_openssl.cpp, RAII, no
// PostgreSQL call) runs inside guarded().
#include "guard.hpp"
#include "pg_sha256.hpp"
#include "settings.hpp"
#include "rulekeeper/signature.hpp"

extern "C" {
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
}

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace {

constexpr std::size_t kMaxKeyFile = 64 * 1024;

// The PEM text of this site's key, palloc'd, or nullptr when no key file is
// set. Refuses a key file others may read, like PostgreSQL refuses such an
// ssl_key_file: the key is what makes a bundle this site's word.
char* read_key_file(std::size_t* length) {
  const char* path = rulekeeper::pg::signing_key_file_setting();
  if (path[0] == '\0') return nullptr;
  struct stat st;
  if (stat(path, &st) != 0)
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not read signing key file \"%s\": %m", path),
                    errhint("rulekeeper.signing_key_file names this site's Ed25519 key (docs/keys.md).")));
  if (!S_ISREG(st.st_mode))
    ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR), errmsg("signing key file \"%s\" is not a regular file", path)));
  if (st.st_uid != geteuid())
    ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                    errmsg("signing key file \"%s\" must be owned by the database server's OS user", path)));
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    ereport(ERROR,
            (errcode(ERRCODE_CONFIG_FILE_ERROR), errmsg("signing key file \"%s\" has group or world access", path),
             errdetail("File must have permissions u=rw (0600) or less.")));
  if (st.st_size <= 0 || static_cast<std::size_t>(st.st_size) > kMaxKeyFile)
    ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                    errmsg("signing key file \"%s\" is not an Ed25519 PEM private key", path)));
  FILE* f = AllocateFile(path, "r");
  if (f == nullptr)
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not read signing key file \"%s\": %m", path)));
  char* buf = static_cast<char*>(palloc(kMaxKeyFile + 1));
  std::size_t n = fread(buf, 1, kMaxKeyFile, f);
  const bool failed = ferror(f) != 0;
  FreeFile(f);
  if (failed) {
    explicit_bzero(buf, kMaxKeyFile + 1);
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not read signing key file \"%s\"", path)));
  }
  buf[n] = '\0';
  *length = n;
  return buf;
}

Datum jsonb_from_cstring(const char* json) { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json)); }

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_sign_checksum);
PGDLLEXPORT Datum rk_sign_checksum(PG_FUNCTION_ARGS) {
  // The SECURITY DEFINER exports run this as the extension's owner; nobody
  // else may sign (a grant by mistake must not turn into a forging tool).
  if (!superuser())
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("only export_release and export_changes sign bundles")));
  const char* format = text_to_cstring(PG_GETARG_TEXT_PP(0));
  const char* checksum = text_to_cstring(PG_GETARG_TEXT_PP(1));
  std::size_t pem_len = 0;
  char* pem = read_key_file(&pem_len);
  if (pem == nullptr) PG_RETURN_NULL();
  char key_id[65] = {0};
  char value[129] = {0};
  const char* site = rulekeeper::pg::site_setting();
  const char* environment = rulekeeper::pg::environment_setting();
  rulekeeper::pg::guarded([&] {
    const rulekeeper::SigningKey key(std::string_view(pem, pem_len));
    const std::string id = rulekeeper::key_id_of(rulekeeper::pg::server_sha256(), key.raw_public_key());
    const std::string sig = rulekeeper::hex_encode(key.sign(rulekeeper::signing_message(format, checksum)));
    std::memcpy(key_id, id.data(), std::min<std::size_t>(64, id.size()));
    std::memcpy(value, sig.data(), std::min<std::size_t>(128, sig.size()));
  });
  explicit_bzero(pem, pem_len);
  // Site and environment are plain identifiers (check_site, check_environment).
  const char* json = psprintf(
      "{\"algorithm\": \"%s\", \"key_id\": \"%s\", \"site\": \"%s\", \"environment\": \"%s\", \"value\": \"%s\"}",
      rulekeeper::kSignatureAlgorithm, key_id, site, environment, value);
  PG_RETURN_DATUM(jsonb_from_cstring(json));
}

PG_FUNCTION_INFO_V1(rk_signing_key_info);
PGDLLEXPORT Datum rk_signing_key_info(PG_FUNCTION_ARGS) {
  std::size_t pem_len = 0;
  char* pem = read_key_file(&pem_len);
  if (pem == nullptr) PG_RETURN_NULL();
  char key_id[65] = {0};
  char* public_pem = nullptr;
  rulekeeper::pg::guarded([&] {
    const rulekeeper::SigningKey key(std::string_view(pem, pem_len));
    const std::string id = rulekeeper::key_id_of(rulekeeper::pg::server_sha256(), key.raw_public_key());
    const std::string pub = key.public_key_pem();
    std::memcpy(key_id, id.data(), std::min<std::size_t>(64, id.size()));
    public_pem = rulekeeper::pg::palloc_copy(pub.data(), pub.size());
  });
  explicit_bzero(pem, pem_len);
  // A PEM public key is base64 with newlines and dashes: escape the newlines.
  StringInfoData out;
  initStringInfo(&out);
  appendStringInfo(&out, "{\"key_id\": \"%s\", \"public_key\": ", key_id);
  escape_json(&out, public_pem);
  appendStringInfoChar(&out, '}');
  PG_RETURN_DATUM(jsonb_from_cstring(out.data));
}

PG_FUNCTION_INFO_V1(rk_ed25519_public_key);
PGDLLEXPORT Datum rk_ed25519_public_key(PG_FUNCTION_ARGS) {
  text* t = PG_GETARG_TEXT_PP(0);
  const char* data = VARDATA_ANY(t);
  std::size_t len = VARSIZE_ANY_EXHDR(t);
  bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + 32));
  SET_VARSIZE(out, VARHDRSZ + 32);
  char* raw_out = VARDATA(out);
  rulekeeper::pg::guarded([&] {
    const std::string raw = rulekeeper::raw_public_key_from_pem(std::string_view(data, len));
    std::memcpy(raw_out, raw.data(), 32);
  });
  PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(rk_verify_bundle_signature);
PGDLLEXPORT Datum rk_verify_bundle_signature(PG_FUNCTION_ARGS) {
  bytea* key = PG_GETARG_BYTEA_PP(0);
  const char* format = text_to_cstring(PG_GETARG_TEXT_PP(1));
  const char* checksum = text_to_cstring(PG_GETARG_TEXT_PP(2));
  const char* value = text_to_cstring(PG_GETARG_TEXT_PP(3));
  const char* key_data = VARDATA_ANY(key);
  std::size_t key_len = VARSIZE_ANY_EXHDR(key);
  const bool ok = rulekeeper::pg::guarded([&] {
    if (std::strlen(value) != 128 || key_len != 32) return false;
    std::string sig;
    try {
      sig = rulekeeper::hex_decode(value, "the signature");
    } catch (const rulekeeper::Error&) {
      return false;  // not hex: not a signature of this bundle
    }
    return rulekeeper::verify_signature(std::string_view(key_data, key_len),
                                        rulekeeper::signing_message(format, checksum), sig);
  });
  PG_RETURN_BOOL(ok);
}

}  // extern "C"
