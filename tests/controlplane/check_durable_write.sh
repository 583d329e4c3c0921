#!/usr/bin/env bash
# The durable write's system calls, in order, as strace sees them: the
# temporary file is written and fsync'd before it is renamed over the
# target, and the directory is fsync'd after the rename. A write that skips
# either fsync, or renames first, fails this.
set -euo pipefail
probe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
strace -f -e trace=openat,write,fsync,fdatasync,rename,renameat,renameat2 -o "$dir/trace" \
  "$probe" "$dir/receipt.json" '{"ok": true}'
[ "$(cat "$dir/receipt.json")" = '{"ok": true}' ] || { echo "content not written"; exit 1; }
python3 - "$dir" <<'PY'
import re, sys
d = sys.argv[1]
lines = open(d + "/trace").read().splitlines()
events = []
fds = {}
for l in lines:
    m = re.search(r'openat\(AT_FDCWD, "([^"]+)".*\)\s+=\s+(\d+)', l)
    if m:
        fds[m.group(2)] = m.group(1)
        if m.group(1).startswith(d):
            events.append(("open", m.group(1)))
        continue
    m = re.search(r'\b(fsync|fdatasync)\((\d+)\)\s+=\s+0', l)
    if m and fds.get(m.group(2), "").startswith(d):
        events.append(("fsync", fds[m.group(2)]))
        continue
    m = re.search(r'\brename(?:at2?)?\(.*"([^"]+)".*"([^"]+)"', l)
    if m and m.group(2).startswith(d):
        events.append(("rename", m.group(1), m.group(2)))
print("\n".join(" ".join(e) for e in events))
target = d + "/receipt.json"
kinds = [e[0] for e in events]
try:
    i_open = next(i for i, e in enumerate(events) if e[0] == "open" and ".tmp-" in e[1])
    tmp = events[i_open][1]
    i_fsync_tmp = next(i for i, e in enumerate(events) if e == ("fsync", tmp))
    i_rename = next(i for i, e in enumerate(events) if e[0] == "rename" and e[1] == tmp and e[2] == target)
    i_fsync_dir = next(i for i, e in enumerate(events) if e == ("fsync", d) and i > i_rename)
except StopIteration:
    print("durable write: the sequence open(tmp) fsync(tmp) rename(tmp, target) fsync(dir) is not there")
    sys.exit(1)
assert i_open < i_fsync_tmp < i_rename < i_fsync_dir
print("durable write: open tmp -> fsync tmp -> rename -> fsync dir: ok")
PY
