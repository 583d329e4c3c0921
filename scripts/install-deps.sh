#!/usr/bin/env bash
# Installs what rulekeeper needs from Debian 12's packages, only what is
# missing (so a second run costs a second). Run as root.
set -euo pipefail
packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-client-15 postgresql-contrib
  libpqxx-dev libcli11-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev libssl-dev openssl pkg-config cmake g++ make python3
  clang libclang-rt-14-dev clang-format strace
  # the second wave: one HTTP stack (Boost.Beast/Asio), templates, and the
  # real tools the tests drive (HA managers, packaging, monitoring, browser)
  libboost-dev libkainjow-mustache-dev
  patroni etcd-server postgresql-15-auto-failover
  lintian prometheus prometheus-postgres-exporter
  chromium chromium-driver python3-selenium
  # the Debian packages' build and test (scripts/package.sh, CTest packages_*):
  # dpkg-shlibdeps for Depends, man to render the man page, systemd-analyze
  # to verify the unit
  dpkg-dev man-db systemd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-deps: done"
