#!/usr/bin/env python3
"""Recomputes rulekeeper's checksums with the Python reference of docs/checksums.md.

Usage: independent_checksum.py CONNINFO
Runs the ```python block of docs/checksums.md "Recompute it yourself" (so the
reference a reader copies is the one tested), reads every (rule_key, label,
body, content_sha256) with psql, recomputes content_sha256 (SHA-256 of the
JCS text) and the snapshot checksum (sum of entry digests mod 2^256), and
exits non-zero on any difference. Shares no code with rulekeeper.
"""
import pathlib, json, subprocess, sys

doc = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "checksums.md").read_text(encoding="utf-8")
reference = doc.split("## Recompute it yourself", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
ref = {}
exec(reference, ref)

def psql(conninfo, sql):
    out = subprocess.run(["psql", "-X", "-At", "-d", conninfo, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return out

rows = json.loads(psql(sys.argv[1], "SELECT coalesce(json_agg(json_build_object('k', rule_key, 'l', label, "
                       "'b', body, 'c', content_sha256)), '[]') FROM rulekeeper.rule_version"))
bad = 0
for r in rows:
    content = ref["content_sha256"](r["b"])
    if content != r["c"]:
        bad += 1
        print(f"content_sha256 differs for {r['k']} {r['l']}: {content} != {r['c']} ({ref['jcs'](r['b'])})")
total = int(ref["snapshot"]([(r["k"], r["l"], r["b"]) for r in rows]), 16)
snapshot = psql(sys.argv[1], "SELECT rulekeeper.snapshot_checksum('all')").strip()
print(f"{len(rows)} versions; snapshot python={total:064x} rulekeeper={snapshot}")
if bad or len(rows) == 0 or f"{total:064x}" != snapshot:
    sys.exit(1)
