#!/usr/bin/env python3
"""CTest pods_guide: docs/pods.md's examples and the pod client against a
sandbox's real gateways and PostgreSQL (issue #18 items 4 and 5).

Usage: check_pods_guide.py REPO RULECTL POD_EXAMPLE PORT_BASE

On a sandbox of its own (`rulectl sandbox up`: a gateway per E3 node):
- the page's ```sh test=curl block runs against ipc1's gateway and prints
  what the page says (200 with ETag, 304 conditional, 304 long poll, the
  event stream, the pods list, healthz, 404 for a mistyped channel);
- the page's ```python test=python block (a long-polling pod) and the C++
  example application (rulekeeper-pod-example, the pod client library)
  follow prod at ipc1: an sl activation gives them nothing new, a prod
  activation at ipc2 reaches them through ipc1;
- ipc1's gateway stopped: the C++ pod keeps its set (and its cache file),
  a prod activation meanwhile, the gateway started again by `sandbox up`:
  the pod reconnects and gets it;
- a C++ pod given ipc2's gateway then ipc1's: ipc2's gateway stopped, it
  switches to ipc1's;
- `sandbox down` leaves no gateway process behind.
Every process it starts is stopped in `finally`, the sandbox too.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO, RULECTL, POD_EXAMPLE, PORT_BASE = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
SITES = {"e1": PORT_BASE, "e2": PORT_BASE + 1, "ipc2": PORT_BASE + 2, "ipc1": PORT_BASE + 3}
GW = {"ipc2": f"http://127.0.0.1:{PORT_BASE + 5}", "ipc1": f"http://127.0.0.1:{PORT_BASE + 7}"}
KNOWN = {"curl", "python"}
checks = 0


def ok(what):
    global checks
    checks += 1
    print(f"  ok: {what}", flush=True)


def fail(what):
    print(f"pods_guide: FAIL: {what}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def blocks(text):
    return [(m.group(1), m.group(2), m.group(3))
            for m in re.finditer(r"^```(\w+)[ \t]+test=([\w-]+)[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S)]


def psql(site, sql):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                        str(SITES[site]), "-U", "postgres", "-d", "rules"],
                       input=sql, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"psql at {site}: {sql.strip()[:200]!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def rulectl(args, config, expect=0):
    r = subprocess.run([RULECTL, *args, "--config", config], capture_output=True, text=True, timeout=300)
    if r.returncode != expect:
        fail(f"rulectl {' '.join(args)}: exit {r.returncode} (expected {expect})\n{r.stdout}\n{r.stderr}")
    return r


def rules_at(gateway, channel="prod"):
    req = urllib.request.Request(f"{gateway}/v1/channels/{channel}/rules", headers={"Rulekeeper-Pod": "guide-probe"})
    with urllib.request.urlopen(req, timeout=10) as a:
        return json.load(a)


def wait_for(what, ready, seconds=60):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception as e:  # noqa: BLE001 - the last error is reported
            last = e
        time.sleep(0.05)
    fail(f"timed out after {seconds}s waiting for {what}" + (f" (last error: {last})" if last else ""))


class Follower:
    """A pod process whose stdout lines are collected by a thread."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env={**os.environ, **(env or {})})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def wait_line(self, pattern, what, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in self.snapshot():
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        fail(f"{self.name}: no line matching {pattern!r} ({what}); lines: {self.snapshot()}; "
             f"exit: {self.proc.poll()}; stderr:\n{self.stderr()[-3000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def gateway_pid(sandbox, site):
    try:
        pid = int(open(os.path.join(sandbox, "gateways", f"{site}.pid")).read().strip())
    except (OSError, ValueError):
        return 0
    return pid if alive(pid) else 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_gateway(sandbox, site):
    pid = gateway_pid(sandbox, site)
    if pid == 0:
        fail(f"no gateway of {site} runs")
    os.kill(pid, signal.SIGTERM)
    wait_for(f"the gateway of {site} (pid {pid}) to exit", lambda: not alive(pid), 30)
    return pid


def main():
    page = open(os.path.join(REPO, "docs", "pods.md"), encoding="utf-8").read()
    found = blocks(page)
    markers = [m for _, m, _ in found]
    for m in markers:
        if m not in KNOWN:
            fail(f"docs/pods.md: unknown block marker test={m} (known: {', '.join(sorted(KNOWN))})")
    for m in KNOWN:
        if m not in markers:
            fail(f"docs/pods.md has no block marked test={m}")
    print(f"pods_guide: {len(found)} tested blocks in docs/pods.md: {', '.join(markers)}", flush=True)

    base = tempfile.mkdtemp(prefix="rk-pods-guide.")
    os.chmod(base, 0o755)
    sandbox = os.path.join(base, "sandbox")
    followers = []
    pids = []
    try:
        up = subprocess.run([RULECTL, "sandbox", "up", "--base", sandbox, "--port-base", str(PORT_BASE)],
                            capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            fail(f"rulectl sandbox up: {up.stdout}\n{up.stderr}")
        for site in ("ipc2", "ipc1"):
            if gateway_pid(sandbox, site) == 0:
                fail(f"sandbox up started no gateway for {site}:\n{up.stderr}")
            pids.append(gateway_pid(sandbox, site))
        toml = open(os.path.join(sandbox, "rulectl.toml")).read()
        for site in ("ipc2", "ipc1"):
            if GW[site].replace("http://", "") not in toml:
                fail(f"the sandbox's rulectl.toml has no gateway section for {site} at {GW[site]}:\n{toml}")
        ok(f"sandbox up: gateways of ipc2 ({GW['ipc2']}) and ipc1 ({GW['ipc1']}) run, in its rulectl.toml")
        run(found, base, sandbox, followers)
    finally:
        for f in followers:
            f.stop()
        pids += [p for p in (gateway_pid(sandbox, s) for s in ("ipc2", "ipc1")) if p]  # restarted ones too
        down = subprocess.run([RULECTL, "sandbox", "down", "--base", sandbox], capture_output=True, text=True,
                              timeout=300)
        left = [p for p in pids if alive(p)]
        for p in left:
            os.kill(p, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
    if down.returncode != 0:
        fail(f"rulectl sandbox down: {down.stdout}\n{down.stderr}")
    if left:
        fail(f"gateway processes {left} outlived `sandbox down`")
    ok("sandbox down: no gateway process left")
    print(f"pods_guide: {checks} checks passed")


def run(found, base, sandbox, followers):
    config = os.path.join(sandbox, "rulectl.toml")
    # A rule with three versions, tested at e2, released to E3, version 1 in sl then prod.
    psql("e1", "SELECT rulekeeper.create_rule('guide.limit', 'guide', 'pods guide');"
               "SELECT rulekeeper.create_version('guide.limit', '{\"max\": 1}');"
               "SELECT rulekeeper.create_version('guide.limit', '{\"max\": 2}');"
               "SELECT rulekeeper.create_version('guide.limit', '{\"max\": 3}');")
    rulectl(["release", "--from", "e1", "--to", "e2"], config)
    for v in ("1", "2", "3"):
        rulectl(["validate", "--site", "e2", "--rule", "guide.limit", "--version", v, "--result", "passed"], config)
    rulectl(["release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "30"], config)

    def to_prod(label):
        rulectl(["activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "guide.limit", "--version", label],
                config)
        rulectl(["validate", "--yes", "--site", "e3", "--rule", "guide.limit", "--version", label, "--result",
                 "passed"], config)
        rulectl(["activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "guide.limit", "--version",
                 label], config)

    to_prod("1")
    wait_for("ipc1's gateway to serve guide.limit@1 in prod",
             lambda: [r["label"] for r in rules_at(GW["ipc1"])["rules"]] == ["1"])
    ok("prod at ipc1's gateway: guide.limit@1 (activated at ipc2, replayed by ipc1)")

    # ---- the curl block ------------------------------------------------------
    curl = next(body for lang, m, body in found if m == "curl")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", curl], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "GATEWAY": GW["ipc1"]})
    if r.returncode != 0:
        fail(f"the curl block exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    out = r.stdout
    for what, pattern in [("200 with the rules", r"HTTP/1\.1 200"),
                          ("the ETag", r'(?i)etag: "\d+"'),
                          ("the epoch header", r"(?i)rulekeeper-epoch: \d+"),
                          ("guide.limit in the body", r'"rule_key":\s*"guide\.limit"'),
                          ("304 for the conditional request", r"conditional: 304"),
                          ("304 at the end of the long poll", r"long poll: 304"),
                          ("a rules event on the stream", r"event: rules"),
                          ("the pod in /v1/pods", r'"pod":\s*"doc-curl-1"'),
                          ("healthz 200", r"healthz: 200"),
                          ("404 for green", r"unknown channel: 404"),
                          ("the channels named", r'unknown channel \\"green\\"; the channels are sl and prod')]:
        if not re.search(pattern, out):
            fail(f"the curl block's output lacks {what} ({pattern!r}):\n{out}\n{r.stderr}")
        ok(f"curl block: {what}")

    # ---- the python block and the C++ example follow prod at ipc1 ----------------
    python = next(body for lang, m, body in found if m == "python")
    script = os.path.join(base, "follow_rules.py")
    with open(script, "w") as f:
        f.write(python)
    py = Follower("python pod", [sys.executable, script, "prod", "doc-py-1", os.path.join(base, "py-prod.json"),
                                 GW["ipc1"]], env={"WAIT_SECONDS": "5"})
    followers.append(py)
    cpp_cache = os.path.join(base, "cpp-prod.json")
    cpp = Follower("C++ pod", [POD_EXAMPLE, "--gateway", GW["ipc1"], "--pod", "doc-cpp-1", "--label", "zone=a",
                               "--cache", cpp_cache, "--verbose"])
    followers.append(cpp)
    first_py = py.wait_line(r"^epoch \d+ from http\S+: guide\.limit@1$", "the first set")
    first_cpp = cpp.wait_line(r"^epoch=\d+ site=ipc1 channel=prod gateway=\S+ rules=guide\.limit@1$", "the first set")
    epoch1 = int(re.search(r"epoch=(\d+)", first_cpp).group(1))
    ok(f"python and C++ pods at ipc1: prod epoch {epoch1}, guide.limit@1")

    # An sl activation: prod's epoch does not move, the pods get nothing new.
    sl_before = rules_at(GW["ipc1"], "sl")["epoch"]
    rulectl(["activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "guide.limit", "--version", "2"],
            config)
    wait_for("ipc1's gateway to serve sl's new epoch", lambda: rules_at(GW["ipc1"], "sl")["epoch"] > sl_before)
    if rules_at(GW["ipc1"])["epoch"] != epoch1:
        fail("an sl activation moved prod's epoch at ipc1's gateway")
    # Then prod: its set is the next line of each pod; had the sl activation
    # woken them with a set, a line would stand between.
    rulectl(["validate", "--yes", "--site", "e3", "--rule", "guide.limit", "--version", "2", "--result", "passed"],
            config)
    rulectl(["activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "guide.limit", "--version", "2"],
            config)
    py.wait_line(r": guide\.limit@2$", "the prod activation")
    cpp.wait_line(r"rules=guide\.limit@2$", "the prod activation")
    for f, pattern in ((py, r"guide\.limit@"), (cpp, r"rules=guide\.limit@")):
        got = [line for line in f.snapshot() if re.search(pattern, line)]
        if len(got) != 2:
            fail(f"{f.name}: expected exactly two sets (prod 1, then prod 2), got {got}")
    ok("an sl activation woke neither pod; the prod activation reached both through ipc1")

    # ---- ipc1's gateway restarted: the C++ pod keeps its set, then reconnects ----
    stop_gateway(sandbox, "ipc1")
    wait_for("the C++ pod to notice", lambda: "cannot connect" in cpp.stderr() or "broke" in cpp.stderr()
             or "ended the event stream" in cpp.stderr(), 30)
    if json.load(open(cpp_cache))["rules"][0]["label"] != "2":
        fail("the C++ pod's cache file does not hold prod 2")
    ok("ipc1's gateway stopped: the C++ pod noticed and its cache file holds prod's guide.limit@2")
    to_prod("3")  # meanwhile, at ipc2
    up = subprocess.run([RULECTL, "sandbox", "up", "--base", sandbox], capture_output=True, text=True, timeout=300)
    if up.returncode != 0 or gateway_pid(sandbox, "ipc1") == 0:
        fail(f"sandbox up did not start ipc1's gateway again:\n{up.stdout}\n{up.stderr}")
    cpp.wait_line(r"rules=guide\.limit@3$", "the activation made while its gateway was down")
    py.wait_line(r": guide\.limit@3$", "the activation made while its gateway was down")
    ok("sandbox up started ipc1's gateway again; both pods reconnected and got prod's guide.limit@3")

    # ---- two URLs: ipc2's gateway stopped, the pod moves to ipc1's ----------------
    two = Follower("C++ pod with two gateways", [POD_EXAMPLE, "--gateway", GW["ipc2"], "--gateway", GW["ipc1"],
                                                 "--pod", "doc-cpp-2", "--verbose"])
    followers.append(two)
    two.wait_line(rf"site=ipc2 channel=prod gateway={re.escape(GW['ipc2'])} rules=guide\.limit@3$", "ipc2's set")
    stop_gateway(sandbox, "ipc2")
    two.wait_line(rf"site=ipc1 channel=prod gateway={re.escape(GW['ipc1'])} rules=guide\.limit@3$",
                  "the switch to ipc1's gateway")
    if f"switching to {GW['ipc1']}" not in two.stderr():
        fail(f"the pod did not say it switched:\n{two.stderr()}")
    ok("ipc2's gateway stopped: the pod given ipc2's then ipc1's gateway switched to ipc1's")
    subprocess.run([RULECTL, "sandbox", "up", "--base", sandbox], capture_output=True, text=True, timeout=300)


if __name__ == "__main__":
    main()
