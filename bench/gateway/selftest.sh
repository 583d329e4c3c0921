#!/usr/bin/env bash
# CTest gateway_load_client_selftest: the load client against the stand-in
# gateway (fake_gateway.cpp), no cluster. For SSE and for long polls: N pods
# get their initial set, one epoch advance, and the client must report every
# pod received it, with latencies measured from the advance; then a run
# where the epoch never advances must report the pods missing and exit 1
# (the client cannot claim a delivery that did not happen).
#   selftest.sh BUILD_BENCH_DIR PORT [PODS]
set -euo pipefail
bin=$1 port=$2 pods=${3:-500}
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
fake=
cleanup() { [ -n "$fake" ] && kill "$fake" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin/gateway_fake" --port "$port" 2>"$work/fake.err" &
fake=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do kill -0 "$fake"; sleep 0.05; done
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }
for mode in sse poll; do
  "$bin/gateway_load_client" --port "$port" --pods "$pods" --mode "$mode" --pod-prefix "$mode-" \
    --reference-file "$work/ref.$mode" --timeout 30 >"$work/out.$mode" 2>"$work/err.$mode" &
  client=$!
  until grep -q '^load_client: ready' "$work/err.$mode"; do kill -0 "$client"; sleep 0.05; done
  t=$(date +%s.%N)
  curl -sf -X POST "http://127.0.0.1:$port/bench/advance?channel=prod" >/dev/null
  printf 'advance %s\nend\n' "$t" >"$work/ref.$mode"
  wait "$client" || { cat "$work/err.$mode" "$work/out.$mode"; echo "FAIL: $mode: the client failed"; exit 1; }
  cat "$work/out.$mode"
  echo "check: $mode: $pods pods received the advanced epoch, none failed, a latency for each"
  [ "$(field "$work/out.$mode" 'd["received"]')" = "$pods" ] || { echo "FAIL: $mode: not every pod received"; exit 1; }
  [ "$(field "$work/out.$mode" 'd["failed"]')" = 0 ] || { echo "FAIL: $mode: pods failed"; exit 1; }
  [ "$(field "$work/out.$mode" 'd["latency_ms"]["advance"]["n"]')" = "$pods" ] || { echo "FAIL: $mode: latencies missing"; exit 1; }
  [ "$(field "$work/out.$mode" 'd["latency_ms"]["advance"]["min"] >= 0')" = True ] || { echo "FAIL: $mode: a receipt before the advance"; exit 1; }
done
echo "check: with no advance the client reports the pods missing and exits 1"
rc=0
"$bin/gateway_load_client" --port "$port" --pods 20 --timeout 1 >"$work/out.none" 2>"$work/err.none" || rc=$?
cat "$work/out.none"
[ $rc = 1 ] && [ "$(field "$work/out.none" 'd["missing"]')" = 20 ] || { echo "FAIL: exit $rc without a delivery"; exit 1; }
echo "selftest: PASS"
