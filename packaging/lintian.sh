#!/usr/bin/env bash
# CTest packages_lintian: lintian on every .deb in DIR (scripts/package.sh's
# output). Fails on any error or warning that is not overridden; the
# overrides, each with its reason, ship in the packages
# (packaging/debian/<component>.lintian-overrides -> /usr/share/lintian/overrides/).
# Prints every tag, info and overridden ones included, so the log shows
# what was accepted and why.
set -euo pipefail
dir=$1
shopt -s nullglob
debs=("$dir"/*.deb)
[ ${#debs[@]} -ge 2 ] || { echo "lintian: no packages in $dir (run scripts/package.sh)" >&2; exit 1; }
echo "lintian: $(lintian --version) on ${debs[*]##*/}"
rc=0
lintian --fail-on error,warning --display-info --show-overrides --tag-display-limit 0 "${debs[@]}" || rc=$?
if [ $rc = 0 ]; then
  echo "lintian: no error or warning outside the overrides"
else
  echo "lintian: FAIL (exit $rc): an error or warning above is not overridden" >&2
fi
exit $rc
