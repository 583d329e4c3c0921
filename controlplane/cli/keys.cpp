// `rulectl keys show|list|trust|revoke` (docs/keys.md): options, ops/keys,
// and a table or --json.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "ops/keys.hpp"

namespace rulekeeper::cli {
namespace {

struct KeysArgs {
  std::string site;
  ops::KeyTrustRequest trust;
  std::string key_id;
  std::string reason;
};

void print_change(const GlobalOptions& global, const ops::KeyChangeReport& r) {
  if (global.json) {
    common::print_json(r.to_json());
    return;
  }
  std::cout << fmt::format("{} at {}: {}\n", r.action, r.site, common::one_line(r.result.dump()));
}

}  // namespace

void add_keys(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* keys =
      app.add_subcommand("keys", "bundle signing keys: show a site's, list, trust and revoke (docs/keys.md)");
  keys->require_subcommand(1);

  CLI::App* show = keys->add_subcommand("show", "a site's own signing key (to trust it elsewhere); exit 3: no key");
  show->add_option("--site", args->site, "site name in rulectl.toml")->required();
  show->callback([&global, &exit_code, args] {
    const ops::KeyShowReport r = ops::keys_show(load_config(global), args->site);
    if (global.json)
      common::print_json(r.to_json());
    else
      std::cout << fmt::format("site {} ({}) signs with key {}\n{}", common::one_line(r.key.site),
                               common::one_line(r.key.environment), common::one_line(r.key.key_id), r.key.public_key);
    exit_code = 0;
  });

  CLI::App* list = keys->add_subcommand("list", "the keys a site trusts, revoked ones too");
  list->add_option("--site", args->site, "site name in rulectl.toml")->required();
  list->callback([&global, &exit_code, args] {
    const ops::KeyListReport r = ops::keys_list(load_config(global), args->site);
    if (global.json) {
      common::print_json(r.to_json());
    } else {
      common::Table t({"key_id", "environment", "added_at", "added_by", "reason", "revoked"});
      for (const auto& k : r.keys)
        t.add_row({common::one_line(k.key_id), common::one_line(k.environment), common::one_line(k.added_at),
                   common::one_line(k.added_by), common::one_line(k.reason),
                   k.revoked_at ? common::one_line(*k.revoked_at + " " + k.revoke_reason.value_or("")) : ""});
      t.print(std::cout);
    }
    exit_code = 0;
  });

  CLI::App* trust =
      keys->add_subcommand("trust",
                           "trust a key at a site: --from SITE (its own key, for its environment) or --environment E "
                           "--public-key-file PEM (exit 3: refused, e.g. a revoked key)");
  trust->add_option("--site", args->trust.site, "where the key is trusted (e3: its primary)")->required();
  trust->add_option("--from", args->trust.from, "a site whose signing key to trust");
  trust->add_option("--environment", args->trust.environment, "e1, e2 or e3 (with --public-key-file)");
  trust->add_option("--public-key-file", args->trust.public_key_file, "an Ed25519 public key, PEM");
  trust->add_option("--reason", args->trust.reason, "why (journaled)")->required();
  trust->callback([&global, &exit_code, args] {
    print_change(global, ops::keys_trust(load_config(global), args->trust));
    exit_code = 0;
  });

  CLI::App* revoke =
      keys->add_subcommand("revoke", "stop trusting a key at a site; bundles it signed are refused from then on");
  revoke->add_option("--site", args->site, "where the key is trusted (e3: its primary)")->required();
  revoke->add_option("--key-id", args->key_id, "the key's id (keys list)")->required();
  revoke->add_option("--reason", args->reason, "why (journaled)")->required();
  revoke->callback([&global, &exit_code, args] {
    print_change(global, ops::keys_revoke(load_config(global), args->site, args->key_id, args->reason));
    exit_code = 0;
  });
}

}  // namespace rulekeeper::cli
