#!/usr/bin/env python3
"""Recomputes rulekeeper's checksums from docs/design/contract.md "Checksums" alone.

Usage: independent_checksum.py CONNINFO
Reads every (rule_key, label, body, content_sha256) with psql, recomputes
content_sha256 (SHA-256 of the canonical JSON) and the snapshot checksum
(sum of entry digests mod 2^256), and exits non-zero on any difference.
For integer/string/boolean/nested bodies with BMP keys, JCS equals
json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False).
"""
import hashlib, json, subprocess, sys

def psql(conninfo, sql):
    out = subprocess.run(["psql", "-X", "-At", "-d", conninfo, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return out

rows = json.loads(psql(sys.argv[1], "SELECT coalesce(json_agg(json_build_object('k', rule_key, 'l', label, "
                       "'b', body, 'c', content_sha256)), '[]') FROM rulekeeper.rule_version"))
total, bad = 0, 0
for r in rows:
    canonical = json.dumps(r["b"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    if content != r["c"]:
        bad += 1
        print(f"content_sha256 differs for {r['k']} {r['l']}: {content} != {r['c']} ({canonical})")
    entry = hashlib.sha256(r["k"].encode() + b"\0" + r["l"].encode() + b"\0" + content.encode()).digest()
    total = (total + int.from_bytes(entry, "big")) % (1 << 256)
snapshot = psql(sys.argv[1], "SELECT rulekeeper.snapshot_checksum('all')").strip()
print(f"{len(rows)} versions; snapshot python={total:064x} rulekeeper={snapshot}")
if bad or len(rows) == 0 or f"{total:064x}" != snapshot:
    sys.exit(1)
