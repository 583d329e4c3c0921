#!/usr/bin/env bash
# The dependency direction of controlplane/'s layers, checked on the sources:
# a file may include headers of its own layer, of the layers it is allowed to
# use, and of the core ("rulekeeper/..."); nothing else of ours. And the
# client rule: no file in cli/ or ops/ holds SQL text — every call of the
# rulekeeper.* API is in site/client/ (docs/design/architecture.md).
#
#   common  -> (nothing)
#   pgnode  -> common
#   site    -> common
#   http    -> common
#   ops     -> site, pgnode, http, common
#   sandbox -> site, pgnode, http, common
#   portal  -> ops, site, http, common  (the admin portal: a front end like cli)
#   cli     -> portal, ops, sandbox, site, http, common
set -uo pipefail
root=${1:-$(dirname "$0")}
cd "$root" || exit 2

declare -A allowed=(
  [common]="common"
  [pgnode]="pgnode common"
  [site]="site common"
  [http]="http common"
  [ops]="ops site pgnode http common"
  [sandbox]="sandbox site pgnode http common"
  [portal]="portal ops site http common"
  [cli]="cli portal ops sandbox site http common"
)

bad=0
checked=0
for layer in "${!allowed[@]}"; do
  [ -d "$layer" ] || { echo "missing layer folder: $layer"; bad=$((bad + 1)); continue; }
  while IFS= read -r file; do
    checked=$((checked + 1))
    while IFS= read -r inc; do
      target=${inc%%/*}
      [ "$target" = "$inc" ] && { echo "$file: include \"$inc\" names no layer (use \"layer/file.hpp\")"; bad=$((bad + 1)); continue; }
      [ "$target" = rulekeeper ] && continue
      ok=0
      for a in ${allowed[$layer]}; do [ "$a" = "$target" ] && ok=1; done
      if [ $ok = 0 ]; then
        echo "$file: $layer may not include \"$inc\" (allowed: ${allowed[$layer]}, rulekeeper/)"
        bad=$((bad + 1))
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
  done < <(find "$layer" -name '*.cpp' -o -name '*.hpp' | sort)
done

# SQL text in the front end or the operations: a string literal that starts a
# statement or names the API. (The client is the only place for it.)
sql=$(grep -nE '"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CALL|WITH|SET|SHOW|BEGIN|COMMIT)[[:space:]]|rulekeeper\.[a-z_]+\(|FROM rulekeeper\.' \
        $(find cli ops http portal -name '*.cpp' -o -name '*.hpp' 2>/dev/null) 2>/dev/null)
if [ -n "$sql" ]; then
  echo "SQL text outside site/client/ (move it into the typed client):"
  echo "$sql"
  bad=$((bad + $(printf '%s\n' "$sql" | wc -l)))
fi

echo "controlplane layers: $checked files checked, $bad violations"
[ "$bad" = 0 ]
