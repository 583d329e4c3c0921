#!/usr/bin/env bash
# CTest packages_install (issue #17 item 1): the Debian packages install into
# this machine's system in place of the source install, run the sandbox and
# the tour from the installed paths, and leave nothing behind when purged.
#
#   test_packages.sh BUILD_DIR PORT_BASE
#
# Steps: take the packages scripts/package.sh built (CTest packages_build) ->
# check what each holds -> remove the source-installed extension and
# /usr/local/bin/rulectl -> apt-get install ./*.deb -> check /usr/bin/rulectl,
# the man page, bash completion, the systemd unit, the example config ->
# `rulectl sandbox demo` (the tour) from /usr/bin/rulectl on PORT_BASE.. with
# the servers running the package's rulekeeper.so -> sandbox down -> purge ->
# every file the packages listed is gone, no directory they made is left ->
# (always, by the EXIT trap, also after a failure) purge what is still
# installed and restore the source install (`cmake --install BUILD_DIR`), so
# the tests after this one find the extension as before. CTest runs it
# RUN_SERIAL: nothing else runs while the extension is swapped out.
set -euo pipefail
build=$(realpath "$1")
port_base=$2
packages=(postgresql-15-rulekeeper rulekeeper-tools)
pkglibdir=$(pg_config --pkglibdir)
extdir=$(pg_config --sharedir)/extension
# where `cmake --install` puts rulectl (/usr/local/bin by default)
src_rulectl=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")/bin/rulectl
work=$(mktemp -d /tmp/rk-packages.XXXXXX)
chmod 755 "$work"  # the sandbox's servers run as postgres
sandbox=$work/sandbox
checks=0

say() { echo "packages: $*"; }
ok() { checks=$((checks + 1)); echo "  ok: $*"; }
fail() {
  echo "packages: FAIL: $*" >&2
  exit 1
}
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  if [ -f "$sandbox/.rulectl-sandbox" ]; then
    say "cleanup: stopping the sandbox"
    local r=/usr/bin/rulectl
    [ -x "$r" ] || r=$build/controlplane/rulectl
    "$r" sandbox down --base "$sandbox" >/dev/null
  fi
  local left=()
  for p in "${packages[@]}"; do
    [ -n "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -v not-installed)" ] && left+=("$p")
  done
  if [ ${#left[@]} -gt 0 ]; then
    say "cleanup: purging ${left[*]}"
    dpkg --purge "${left[@]}" >/dev/null
  fi
  say "cleanup: restoring the source install (cmake --install $build)"
  cmake --install "$build" >/dev/null || {
    echo "packages: FAIL: could not restore the source install" >&2
    rc=1
  }
  [ -f "$pkglibdir/rulekeeper.so" ] && [ -x "$src_rulectl" ] || {
    echo "packages: FAIL: the source install is not back ($pkglibdir/rulekeeper.so, $src_rulectl)" >&2
    rc=1
  }
  rm -rf "$work"
  [ $rc = 0 ] && say "$checks checks passed" || say "failed (exit $rc)"
  exit $rc
}
trap cleanup EXIT

for p in "${packages[@]}"; do
  if [ -n "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -v not-installed)" ]; then
    trap - EXIT
    rm -rf "$work"
    fail "$p is already on this system (dpkg-query -W $p): not replacing a system's own packages"
  fi
done

# ---- 1. the packages and what they hold -----------------------------------
shopt -s nullglob
ext_deb=("$build"/packages/postgresql-15-rulekeeper_*.deb)
tools_deb=("$build"/packages/rulekeeper-tools_*.deb)
[ ${#ext_deb[@]} = 1 ] && [ ${#tools_deb[@]} = 1 ] || fail "expected one .deb of each package in $build/packages (CTest packages_build)"
say "$(basename "${ext_deb[0]}") $(basename "${tools_deb[0]}")"
deb_files() { dpkg-deb --fsys-tarfile "$1" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/\?$'; }
deb_files "${ext_deb[0]}" > "$work/ext.list"
deb_files "${tools_deb[0]}" > "$work/tools.list"
expect_in() {
  grep -qxF "$2" "$work/$1.list" || fail "$2 is not in the $1 package"
}
expect_in ext "$pkglibdir/rulekeeper.so"
expect_in ext "$extdir/rulekeeper.control"
# every script the build assembled (the generated 0.2 install script, 0.1,
# the update scripts), whatever their number
nscripts=0
for s in "$build"/sql/rulekeeper--*.sql; do
  expect_in ext "$extdir/$(basename "$s")"
  nscripts=$((nscripts + 1))
done
[ $nscripts -ge 3 ] || fail "only $nscripts SQL scripts in $build/sql (0.1, 0.1--0.2 and 0.2 expected)"
expect_in ext /usr/share/doc/postgresql-15-rulekeeper/copyright
ok "postgresql-15-rulekeeper holds rulekeeper.so, the control file and the $nscripts SQL scripts of $build/sql"
for f in /usr/bin/rulectl /usr/share/man/man1/rulectl.1.gz /usr/share/bash-completion/completions/rulectl \
         /lib/systemd/system/rulectl-watch@.service /lib/systemd/system/rulectl-gateway@.service \
         /etc/rulekeeper/rulectl.toml \
         /usr/share/doc/rulekeeper-tools/copyright /usr/share/doc/rulekeeper-tools/changelog.gz \
         /usr/share/rulekeeper/postgres_exporter.yaml /usr/share/rulekeeper/rulekeeper.rules.yml; do
  expect_in tools "$f"
done
ok "rulekeeper-tools holds rulectl, its man page and completion, rulectl-watch@.service, rulectl-gateway@.service, the example config, the monitoring files"
grep -q "^/usr/local" "$work/ext.list" "$work/tools.list" && fail "a package holds a file under /usr/local"
ok "no file under /usr/local"
depends=$(dpkg-deb -f "${ext_deb[0]}" Depends)
[[ ", $depends," == *", postgresql-15,"* ]] || fail "postgresql-15-rulekeeper Depends: '$depends' (postgresql-15 expected)"
ok "postgresql-15-rulekeeper Depends: $depends"
[ "$(dpkg-deb -f "${ext_deb[0]}" Version)" = "$(dpkg-deb -f "${tools_deb[0]}" Version)" ] || fail "the two packages' versions differ"

# Which of the packages' directories exist before: those must stay, every
# other path must be gone after the purge.
cat "$work/ext.list" "$work/tools.list" | sort -u > "$work/all.list"
while read -r p; do [ -e "$p" ] && echo "$p"; done < "$work/all.list" > "$work/existing-before.list"

# ---- 2. out with the source install, in with the packages -----------------
say "removing the source install: $pkglibdir/rulekeeper.so, $extdir/rulekeeper{.control,--*.sql}, $src_rulectl"
rm -f "$pkglibdir/rulekeeper.so" "$extdir/rulekeeper.control" "$extdir"/rulekeeper--*.sql "$src_rulectl"
hash -r
[ -z "$(command -v rulectl || true)" ] || fail "rulectl still on PATH after removing the source install: $(command -v rulectl)"
ok "no rulectl on PATH, no rulekeeper.so in $pkglibdir"

say "apt-get install ${ext_deb[0]} ${tools_deb[0]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${ext_deb[0]}" "${tools_deb[0]}" \
  > "$work/apt-install.log" 2>&1 || { cat "$work/apt-install.log"; fail "apt-get install of the packages failed"; }
for p in "${packages[@]}"; do installed "$p" || fail "$p is not installed after apt-get install"; done
dpkg --verify "${packages[@]}" || fail "dpkg --verify: installed files differ from the packages"
ok "both packages installed; dpkg --verify clean"
for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u > "$work/dpkg-L.list"

hash -r
[ "$(command -v rulectl)" = /usr/bin/rulectl ] || fail "rulectl on PATH is '$(command -v rulectl || true)', not /usr/bin/rulectl"
[ "$(dpkg -S "$pkglibdir/rulekeeper.so" | cut -d: -f1)" = postgresql-15-rulekeeper ] || fail "dpkg -S rulekeeper.so"
version_line=$(/usr/bin/rulectl --version)
ok "rulectl is /usr/bin/rulectl ($version_line); dpkg -S rulekeeper.so: postgresql-15-rulekeeper"

man_text=$(MANWIDTH=100 man -l /usr/share/man/man1/rulectl.1.gz 2>&1)
for verb in "rulectl hotfix list" "rulectl failover" "rulectl watch" "EXIT STATUS"; do
  grep -qF "$verb" <<< "$man_text" || fail "the man page has no '$verb'"
done
ok "man rulectl documents every verb (hotfix list, failover, watch, exit status)"

complete_words() {  # complete_words WORD... : what bash completion offers for the last word
  bash -c 'source /usr/share/bash-completion/completions/rulectl
           COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _rulectl; echo "${COMPREPLY[*]}"' complete "$@"
}
[ "$(complete_words rulectl hotf)" = hotfix ] || fail "completion of 'rulectl hotf': '$(complete_words rulectl hotf)'"
[ "$(complete_words rulectl hotfix --sync)" = "--sync --sync-timeout" ] ||
  fail "completion of 'rulectl hotfix --sync': '$(complete_words rulectl hotfix --sync)'"
[ "$(complete_words rulectl --config /etc/rulekeeper/rulectl.toml sandbox d)" = "demo down" ] ||
  fail "completion of 'rulectl --config FILE sandbox d': '$(complete_words rulectl --config /etc/rulekeeper/rulectl.toml sandbox d)'"
ok "bash completion: verbs, a verb's flags, subcommands after a global flag with a value"

unit_check=$work/rulectl-watch@check.service
cp /lib/systemd/system/rulectl-watch@.service "$unit_check"
if ! systemd-analyze verify --man=no "$unit_check" > "$work/unit.log" 2>&1; then
  cat "$work/unit.log"
  fail "systemd-analyze verify rulectl-watch@.service"
fi
grep -q '^ExecStart=/usr/bin/rulectl watch' "$unit_check" || fail "the unit does not start /usr/bin/rulectl watch"
ok "systemd-analyze verify rulectl-watch@.service (an instance of it)"

unit_check=$work/rulectl-gateway@ipc1.service
cp /lib/systemd/system/rulectl-gateway@.service "$unit_check"
if ! systemd-analyze verify --man=no "$unit_check" > "$work/unit.log" 2>&1; then
  cat "$work/unit.log"
  fail "systemd-analyze verify rulectl-gateway@.service"
fi
grep -q '^ExecStart=/usr/bin/rulectl gateway --node %i' "$unit_check" || fail "the unit does not start /usr/bin/rulectl gateway"
ok "systemd-analyze verify rulectl-gateway@.service (an instance of it)"

# The example config is one rulectl reads (unknown keys would be exit 2);
# its hosts do not exist, so each site shows as unknown.
if ! timeout 120 /usr/bin/rulectl version --config /etc/rulekeeper/rulectl.toml > "$work/version.out" 2>&1; then
  cat "$work/version.out"
  fail "rulectl version --config /etc/rulekeeper/rulectl.toml"
fi
for s in e1 e2 ipc2 ipc1; do grep -q "^$s " "$work/version.out" || fail "rulectl version lists no site $s"; done
ok "/etc/rulekeeper/rulectl.toml is a valid rulectl config (4 sites)"

# ---- 3. the sandbox and the tour from the installed paths -----------------
say "sandbox and tour from /usr/bin/rulectl (ports $port_base..$((port_base + 3)), $sandbox)"
if ! timeout 600 /usr/bin/rulectl sandbox demo --base "$sandbox" --port-base "$port_base" > "$work/tour.log" 2>&1; then
  tail -40 "$work/tour.log"
  fail "the tour from /usr/bin/rulectl failed"
fi
grep -q "^\$ rulectl compare ipc1 ipc2" "$work/tour.log" && grep -q "^Tour done in" "$work/tour.log" ||
  fail "the tour did not reach its end"
ok "the tour ran to its end ($(grep -c '^\$ rulectl' "$work/tour.log") rulectl steps)"
# Each running server loaded the package's library (the source one is gone).
nservers=0
for pid_file in "$sandbox"/*/data/postmaster.pid "$sandbox"/*/postmaster.pid; do
  [ -f "$pid_file" ] || continue
  pid=$(head -1 "$pid_file")
  grep -q " $pkglibdir/rulekeeper.so$" "/proc/$pid/maps" || fail "the server of $pid_file has not loaded $pkglibdir/rulekeeper.so"
  nservers=$((nservers + 1))
done
[ $nservers -ge 4 ] || fail "found $nservers running sandbox servers (4 expected) under $sandbox"
ok "$nservers sandbox servers run the package's $pkglibdir/rulekeeper.so"
/usr/bin/rulectl sandbox down --base "$sandbox" > /dev/null 2>&1 || fail "rulectl sandbox down"
[ ! -e "$sandbox" ] || fail "the sandbox directory is still there after sandbox down"
ok "sandbox down"

# ---- 4. purge: nothing is left --------------------------------------------
say "dpkg --purge ${packages[*]}"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${packages[@]}" > "$work/apt-purge.log" 2>&1 ||
  { cat "$work/apt-purge.log"; fail "apt-get purge failed"; }
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo not-installed)" = not-installed ] ||
    fail "$p is still known to dpkg after the purge: $(dpkg-query -W -f='${db:Status-Status}' "$p")"
done
left=0
while read -r p; do
  grep -qxF "$p" "$work/existing-before.list" && continue
  if [ -e "$p" ] || [ -L "$p" ]; then
    echo "  left behind: $p" >&2
    left=$((left + 1))
  fi
done < <(sort -u "$work/dpkg-L.list" "$work/all.list")
[ $left = 0 ] || fail "$left path(s) of the packages are left after the purge"
[ ! -e /etc/rulekeeper ] && [ ! -e /var/lib/rulekeeper ] || fail "/etc/rulekeeper or /var/lib/rulekeeper left"
ok "purged: all $(wc -l < "$work/dpkg-L.list") paths dpkg -L listed are gone (or were there before)"
