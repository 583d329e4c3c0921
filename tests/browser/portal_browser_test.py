#!/usr/bin/python3
"""CTest portal_browser: the admin portal (`rulectl portal`, issue #19) in a
real browser — headless Chromium driven by Selenium through chromedriver —
against a real sandbox (e1, e2, ipc2 primary, ipc1 its streaming standby).

Usage: portal_browser_test.py REPO RULECTL PORT_FIRST

What it does, in one sandbox for the whole run (a few minutes):
  - loads rules, versions, two hotfixes and hostile data (<script>, quotes,
    non-ASCII in a rule key, a reason and a body) through psql and rulectl;
  - makes one login role per rulekeeper role (reader, releaser, hotfix) with a
    password, and makes the sandbox's servers ask for it (scram-sha-256 for
    everyone but the superuser), so PostgreSQL decides who may do what;
  - starts `rulectl portal`, chromedriver and headless Chromium;
  - checks what docs/portal.md promises, printing every check; the checks
    are in phases, a failed phase is reported and the next one still runs
    (the summary names each failed phase), and the test fails if any did.
Everything it starts (sandbox servers, portal, chromedriver, Chromium) is
stopped in `finally`, also on failure, and the test then asserts that no
process of its own remains (they all carry its private directory in their
command lines).

RULEKEEPER_UPDATE_DOCS=1 copies the screenshots into docs/portal/*.png
(docs/portal.md shows them); otherwise they stay in the test's directory.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

REPO, RULECTL, PORT_FIRST = sys.argv[1], sys.argv[2], int(sys.argv[3])
# tests/ports.txt portal_browser: +0..+4 the sandbox's PostgreSQL (e1, e2,
# ipc2, ipc1; +4 unused ipc2b), +5..+14 left to what `sandbox up` starts
# beside them (gateways; its own portal at +8), +15 our portal, +16 chromedriver,
# +17 a second portal with TLS.
SITES = {"e1": PORT_FIRST, "e2": PORT_FIRST + 1, "ipc2": PORT_FIRST + 2, "ipc1": PORT_FIRST + 3}
PORTAL_PORT = PORT_FIRST + 15
DRIVER_PORT = PORT_FIRST + 16
TLS_PORTAL_PORT = PORT_FIRST + 17
PG_BINDIR = "/usr/lib/postgresql/15/bin"

# Hostile data: markup, both quotes, non-ASCII. A key with '/' too (from
# "</script>"), so the portal must percent-encode it in its links.
HOSTILE_KEY = "hostile.<script>alert(\"key\")</script>'é✓"
HOSTILE_NOTE = "<script>window.__pwned='body';alert(2)</script> \"double\" 'single' é✓ & <b>bold</b>"
HOSTILE_IMG_KEY = "<img src=x onerror=\"window.__pwned='img';alert(3)\">"
HOSTILE_REASON = "rate too low <script>window.__pwned='reason';alert(4)</script> \"INC-1\" 'q' é✓"
HOSTILE_ACTIVATE_REASON = "planned v2 <img src=x onerror=\"window.__pwned='ack';alert(5)\"> 'é✓' \"ok\""

USERS = {  # login role -> (rulekeeper role, password)
    "rita_reader": ("rulekeeper_reader", "pw-reader-é1"),
    "rob_releaser": ("rulekeeper_releaser", "pw-releaser-2"),
    "hana_hotfix": ("rulekeeper_hotfix", "pw-hotfix-3"),
}

BASE = tempfile.mkdtemp(prefix="rk-portal-browser.")
os.chmod(BASE, 0o755)
SANDBOX = os.path.join(BASE, "sandbox")
SHOTS = os.path.join(BASE, "screenshots")
UPDATE_DOCS = os.environ.get("RULEKEEPER_UPDATE_DOCS") == "1"
DOCS_SHOTS = os.path.join(REPO, "docs", "portal")

checks = 0
failures = []
started = []  # (name, Popen) of every daemon this test started itself
driver = None


class Failed(Exception):
    pass


def ok(what):
    global checks
    checks += 1
    print(f"  ok: {what}", flush=True)


def check(cond, what, detail=""):
    if not cond:
        raise Failed(f"{what}{': ' + detail if detail else ''}")
    ok(what)


def log(what):
    print(f"portal_browser: {what}", flush=True)


# ---------------------------------------------------------------- processes

def run(argv, check_rc=True, timeout=300, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check_rc and r.returncode != 0:
        raise Failed(f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def psql(site, sql, user="postgres", password=None, check_rc=True):
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(SITES[site]),
                        "-U", user, "-d", "rules"], input=sql, capture_output=True, text=True, timeout=60, env=env)
    if check_rc and r.returncode != 0:
        raise Failed(f"psql at {site} as {user}: {sql.strip()[:300]!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def config_file():
    return os.path.join(SANDBOX, "rulectl.toml")


def rulectl(*args, expect=0):
    r = subprocess.run([RULECTL, *args, "--config", config_file()], capture_output=True, text=True, timeout=300)
    if r.returncode != expect:
        raise Failed(f"rulectl {' '.join(args)}: exit {r.returncode} (expected {expect})\n{r.stdout}\n{r.stderr}")
    return r.stdout


def daemon(name, argv, log_name):
    """Starts a daemon in its own process group (so finally can stop it and
    everything it started), output to a log in BASE."""
    out = open(os.path.join(BASE, log_name), "ab")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    started.append((name, p))
    return p


def wait_port(port, what, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Failed(f"{what} exited with {proc.returncode} before listening on {port} "
                         f"(log in {BASE})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise Failed(f"{what} does not listen on 127.0.0.1:{port} after {timeout}s")


def poll(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise Failed(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def our_processes():
    """PIDs whose command line names this test's private directory: the
    sandbox's postgres servers, the portal (its config), chromedriver (its
    log), Chromium (its --user-data-dir)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if BASE in cmd:
            pids.append((int(d), cmd[:160]))
    return pids


def pg_ctl(site, *args):
    data = os.path.join(SANDBOX, site, "data")
    conf = os.path.join(SANDBOX, site, "conf", "postgresql.conf")
    argv = [f"{PG_BINDIR}/pg_ctl", "-D", data, "-w", "-t", "60"]
    if args[0] == "start":
        argv += ["-l", os.path.join(SANDBOX, site, "log"), "-o", f"-c config_file={conf}"]
    argv += list(args)
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    run(argv, timeout=120)


# ---------------------------------------------------------------- the data

def set_up_data():
    up = run([RULECTL, "sandbox", "up", "--base", SANDBOX, "--port-base", str(PORT_FIRST)])
    log(f"sandbox up in {SANDBOX} (PostgreSQL on {PORT_FIRST}..{PORT_FIRST + 3})")
    # `sandbox up` starts a portal of its own and prints its address: it
    # answers (the pages are checked on the test's own portal below).
    m = re.search(r"the admin portal: (http\S+)", up.stdout + up.stderr)
    check(m, "sandbox up prints the admin portal's address", (up.stdout + up.stderr)[-600:])
    status, body = http("GET", "/login", base=m.group(1).rstrip("/"))
    check(status == 200 and 'id="login"' in body, f"the sandbox's portal {m.group(1)} serves the login page")

    # Authoring at e1: pricing.discount with two planned versions, risk.limit,
    # and the hostile rule.
    body = json.dumps({"note": HOSTILE_NOTE, HOSTILE_IMG_KEY: 1, "é✓": ["<i>x</i>"]}, ensure_ascii=False)
    psql("e1", f"""
      SELECT rulekeeper.create_rule('pricing.discount', 'pricing', 'discount by tier');
      SELECT rulekeeper.create_rule('risk.limit', 'risk', 'exposure limit');
      SELECT rulekeeper.create_rule({sql_str(HOSTILE_KEY)}, 'hostile', {sql_str('described as ' + HOSTILE_NOTE)});
      SELECT rulekeeper.create_version('pricing.discount', '{{"rate": 0.10, "tiers": [100, 500]}}');
      SELECT rulekeeper.create_version('pricing.discount', '{{"rate": 0.12, "tiers": [100, 500]}}');
      SELECT rulekeeper.create_version('risk.limit', '{{"max": 1000}}');
      SELECT rulekeeper.create_version({sql_str(HOSTILE_KEY)}, {sql_str(body)});
    """)
    rulectl("release", "--from", "e1", "--to", "e2")
    for rule, label in (("pricing.discount", "1"), ("pricing.discount", "2"), ("risk.limit", "1"), (HOSTILE_KEY, "1")):
        rulectl("validate", "--site", "e2", "--rule", rule, "--version", label, "--result", "passed")
    rulectl("release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "30")
    # E3: everything validated in sl and live in prod at version 1; then sl
    # moves on to pricing.discount 2 (validated), so prod 1 and sl 2 differ.
    for rule in ("pricing.discount", "risk.limit", HOSTILE_KEY):
        rulectl("activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", rule, "--version", "1")
        rulectl("validate", "--yes", "--site", "e3", "--rule", rule, "--version", "1", "--result", "passed")
        rulectl("activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", rule, "--version", "1")
    rulectl("activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount", "--version", "2")
    rulectl("validate", "--yes", "--site", "e3", "--rule", "pricing.discount", "--version", "2", "--result", "passed")
    # Two hotfixes of prod's pricing.discount: 1.1 replaces /rate (with the
    # hostile reason), 1.2 adds /cap. Version 2 would undo both.
    psql("ipc2", "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES"
                 " ('pricing', ARRAY['/rate', '/cap']), ('risk', ARRAY['/max'])")
    fix1 = write("fix1.json", '{"rate": 0.15, "tiers": [100, 500]}')
    fix2 = write("fix2.json", '{"rate": 0.15, "tiers": [100, 500], "cap": 20}')
    rulectl("hotfix", "--yes", "--site", "e3", "--rule", "pricing.discount", "--body-file", fix1, "--reason",
            HOSTILE_REASON)
    rulectl("hotfix", "--yes", "--site", "e3", "--rule", "pricing.discount", "--body-file", fix2, "--reason",
            "cap the discount at 20")
    ok("data: 3 rules (one hostile) released e1 -> e2 -> e3, validated, live; hotfixes 1.1 and 1.2 in prod")

    # One login role per rulekeeper role, at every primary (ipc1 replays ipc2).
    roles = "".join(f"CREATE ROLE {u} LOGIN PASSWORD {sql_str(pw)} IN ROLE {role};"
                    for u, (role, pw) in USERS.items())
    for site in ("e1", "e2", "ipc2"):
        psql(site, roles)
    # The sandbox trusts everyone on loopback; here every login but the
    # superuser (rulectl's and this test's) must give its password.
    for site in SITES:
        hba = psql(site, "SHOW hba_file")
        with open(hba, "w") as f:
            f.write("local all all trust\nlocal replication all trust\n"
                    "host replication all 127.0.0.1/32 trust\n"
                    "host all postgres 127.0.0.1/32 trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        psql(site, "SELECT pg_reload_conf()")
    poll("ipc1 to replay the login roles", lambda: psql(
        "ipc1", "SELECT count(*) FROM pg_roles WHERE rolname IN (" +
        ",".join(sql_str(u) for u in USERS) + ")") == str(len(USERS)))
    poll("ipc1 to replay hotfix 1.2", lambda: psql(
        "ipc1", "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key = 'pricing.discount' AND label = '1.2'")
        == "1")
    u, (_, pw) = next(iter(USERS.items()))
    check(psql("ipc2", "SELECT 1", user=u, password="wrong", check_rc=False) == "",
          "the servers ask for passwords (a wrong one is refused by PostgreSQL)")
    check(psql("ipc1", "SELECT current_user", user=u, password=pw) == u, f"{u} logs in at ipc1 with its password")

    # The portal's config: the sandbox's sites plus [portal] (a file of its
    # own, so the CLI calls above and below use the sandbox's unchanged).
    with open(config_file(), encoding="utf-8") as f:
        text = f.read()
    write("portal.toml", text + f'\n[portal]\nlisten = "127.0.0.1:{PORTAL_PORT}"\nsession_idle_minutes = 30\n')


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def write(name, text):
    path = os.path.join(BASE, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- the browser

def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    chromium = run(["chromium", "--version"]).stdout
    chromedriver = run(["chromedriver", "--version"]).stdout
    cv = re.search(r"(\d+)\.\d+\.\d+\.\d+", chromium)
    dv = re.search(r"(\d+)\.\d+\.\d+\.\d+", chromedriver)
    check(cv and dv and cv.group(0) == dv.group(0), "chromium and chromedriver are the same version",
          f"{chromium.strip()} vs {chromedriver.strip()}")
    p = daemon("chromedriver", ["chromedriver", f"--port={DRIVER_PORT}", "--allowed-ips=127.0.0.1",
                                f"--log-path={BASE}/chromedriver.log"], "chromedriver.out")
    wait_port(DRIVER_PORT, "chromedriver", p)
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", "--window-size=1280,900",
              f"--user-data-dir={BASE}/chromium-profile", "--lang=en-US"):
        opts.add_argument(a)
    global driver
    driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{DRIVER_PORT}", options=opts)
    driver.set_window_size(1280, 900)
    driver.set_page_load_timeout(30)
    ok(f"headless {chromium.strip()} driven by chromedriver on 127.0.0.1:{DRIVER_PORT}")


def start_portal():
    r = run([RULECTL, "portal", "--help"], check_rc=False)
    if r.returncode != 0:
        raise Failed(f"this rulectl has no `portal` verb (exit {r.returncode}): {r.stderr.strip()[:300]}")
    p = daemon("portal", [RULECTL, "portal", "--config", os.path.join(BASE, "portal.toml")], "portal.log")
    wait_port(PORTAL_PORT, "rulectl portal", p)
    ok(f"rulectl portal listens on 127.0.0.1:{PORTAL_PORT}")


def stop_everything():
    global driver
    if driver is not None:
        try:
            driver.quit()
        except Exception as e:  # noqa: BLE001 - the process groups below are killed anyway
            log(f"driver.quit: {e}")
        driver = None
    for name, p in reversed(started):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        # Whatever the group left (Chromium's helpers) goes too.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if os.path.exists(SANDBOX):
        r = subprocess.run([RULECTL, "sandbox", "down", "--base", SANDBOX], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            log(f"sandbox down: exit {r.returncode}: {r.stderr.strip()}")
    # Chromium may reparent a helper out of chromedriver's group: anything
    # still naming our directory is killed, and its survival fails the test.
    left = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = our_processes()
        if not left:
            break
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    return left


def portal(path):
    return f"http://127.0.0.1:{PORTAL_PORT}{path}"


def key_path(key):
    return urllib.parse.quote(key, safe="")


def css(sel):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, sel)


def one(sel, what=None):
    els = css(sel)
    if not els:
        raise Failed(f"{what or sel}: no element {sel} on {driver.current_url} (h1: {h1()!r})")
    return els[0]


def h1():
    els = css("h1")
    return els[0].text if els else None


def shot(name, focus=None):
    """Saves the page as NAME.png; `focus`: a selector scrolled to the top of
    the window first (the part of the page the screenshot is about)."""
    els = css(focus) if focus else []
    if els:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -70);", els[0])
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, f"{name}.png")
    check(driver.save_screenshot(path), f"screenshot {name}.png")
    if UPDATE_DOCS:
        os.makedirs(DOCS_SHOTS, exist_ok=True)
        shutil.copy(path, os.path.join(DOCS_SHOTS, f"{name}.png"))


def no_alert_and_not_pwned():
    from selenium.common.exceptions import NoAlertPresentException
    try:
        a = driver.switch_to.alert
        text = a.text
        a.dismiss()
        raise Failed(f"an alert opened on {driver.current_url}: {text!r}")
    except NoAlertPresentException:
        pass
    pwned = driver.execute_script("return window.__pwned || null")
    check(pwned is None, f"no injected script ran on {urllib.parse.unquote(driver.current_url)}", f"ran: {pwned}")


def text_present_exactly(s):
    """Some element's own text is exactly s (markup shown as text)."""
    return driver.execute_script(
        "const s = arguments[0];"
        "for (const e of document.querySelectorAll('body *')) {"
        "  let own = ''; for (const n of e.childNodes) if (n.nodeType === 3) own += n.data;"
        "  if (own.trim() === s || e.textContent.trim() === s) return true; }"
        "return false;", s)


def go(path, expect_h1=True):
    driver.get(portal(path))
    no_alert_and_not_pwned()
    if expect_h1:
        check(h1() is not None and h1() != "", f"{path}: h1 {h1()!r}")


def fill(form, name, value):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    els = form.find_elements(By.NAME, name)
    if not els:
        raise Failed(f"form#{form.get_attribute('id')} has no field {name!r}")
    el = els[0]
    tag = el.tag_name.lower()
    typ = (el.get_attribute("type") or "").lower()
    if tag == "select":
        Select(el).select_by_value(value)
    elif typ in ("radio", "checkbox"):
        for e in els:
            if e.get_attribute("value") == value:
                if not e.is_selected():
                    e.click()
                return
        raise Failed(f"form#{form.get_attribute('id')}: no {name} option {value!r}")
    elif typ == "hidden":
        driver.execute_script("arguments[0].value = arguments[1]", el, value)
    else:
        el.clear()
        el.send_keys(value)


def submit(form):
    from selenium.webdriver.common.by import By
    buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit], button:not([type])")
    mark_page()
    if buttons:
        buttons[0].click()
    else:
        form.submit()
    poll("the page after submitting", new_page, timeout=60)
    no_alert_and_not_pwned()


def mark_page():
    """Marks the current document; new_page() is true once another one has
    loaded (a submitted form's answer)."""
    driver.execute_script("window.__rkOldPage = true;")


def new_page():
    from selenium.common.exceptions import WebDriverException
    try:
        return driver.execute_script("return window.__rkOldPage === undefined && document.readyState === 'complete'")
    except WebDriverException:  # in the middle of the navigation
        return False


def login(user, password):
    driver.delete_all_cookies()
    go("/login")
    form = one("form#login")
    fill(form, "user", user)
    fill(form, "password", password)
    submit(form)


def logged_in_as(user):
    who = css("#whoami")
    check(who and user in who[0].text, f"logged in: #whoami names {user}", f"#whoami: {who[0].text if who else None}")


def session_cookie():
    for c in driver.get_cookies():
        if c["name"] == "rulekeeper_session":
            return c
    return None


def refusal():
    r = one("div.refusal[role=alert]", "a refusal")
    reason = r.find_elements("css selector", ".refusal-reason")
    hint = r.find_elements("css selector", ".refusal-hint")
    return r, (reason[0].text if reason else None), (hint[0].text if hint else None)


def bg(el):
    return driver.execute_script(
        "let e = arguments[0];"
        "for (const x of [e, ...e.querySelectorAll('td,th')]) {"
        "  const c = getComputedStyle(x).backgroundColor;"
        "  if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }"
        "return 'none';", el)


def assert_diff_rows(scope, expect, where):
    """expect: {"/path": "added|removed|replaced"}: each such row exists with
    its data-path, and each kind's background differs from a plain row's."""
    from selenium.webdriver.common.by import By
    plain_rows = scope.find_elements(By.CSS_SELECTOR, "tr:not(.diff-added):not(.diff-removed):not(.diff-replaced)")
    plain = {bg(r) for r in plain_rows if r.find_elements(By.TAG_NAME, "td")} or {"none"}
    seen = {}
    for path, kind in expect.items():
        rows = scope.find_elements(By.CSS_SELECTOR, f"tr.diff-{kind}")
        rows = [r for r in rows if r.get_attribute("data-path") == path]
        check(rows, f"{where}: tr.diff-{kind}[data-path=\"{path}\"]",
              "rows there: " + ", ".join(f"{r.get_attribute('class')} {r.get_attribute('data-path')}"
                                         for r in scope.find_elements(By.CSS_SELECTOR, "tr[data-path]")))
        colour = bg(rows[0])
        check(colour != "none" and colour not in plain,
              f"{where}: {kind} row {path} is highlighted (background {colour}, plain rows {sorted(plain)})")
        seen[kind] = colour
    if len(seen) > 1:
        check(len(set(seen.values())) == len(seen), f"{where}: added/removed/replaced have distinct colours {seen}")


def http(method, path, fields=None, cookie=None, accept="text/html", base=None):
    data = urllib.parse.urlencode(fields, doseq=True).encode() if fields is not None else None
    req = urllib.request.Request((base or portal("")) + path, data=data, method=method)
    req.add_header("Accept", accept)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("Origin", f"http://127.0.0.1:{PORTAL_PORT}")
    if cookie:
        req.add_header("Cookie", f"rulekeeper_session={cookie}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def history_count(channel=None):
    where = f" WHERE channel = {sql_str(channel)}" if channel else ""
    return int(psql("ipc2", f"SELECT count(*) FROM rulekeeper.activation_history{where}"))


# ---------------------------------------------------------------- the phases

def show_gate(channel, label):
    """The rule page's activate form for (channel, label). When the portal
    previews the hotfix gate before anything is submitted (a picker
    form#gate-pick), the picker is used first, so the boxes and diffs shown
    are those of this move; form#activate's channel and label are then set."""
    pick = css("form#gate-pick")
    if pick:
        # Set both selects without firing change events (the portal's
        # script submits the picker on change), then submit once.
        got = driver.execute_script(
            "const f = arguments[0];"
            "f.querySelector('[name=channel]').value = arguments[1];"
            "f.querySelector('[name=label]').value = arguments[2];"
            "return [f.querySelector('[name=channel]').value, f.querySelector('[name=label]').value];",
            pick[0], channel, label)
        if got != [channel, label]:
            raise Failed(f"form#gate-pick has no option {channel}/{label} (got {got})")
        submit(pick[0])
    form = one("form#activate")
    fill(form, "channel", channel)
    fill(form, "label", label)
    return form


def click_submit(form, name, value):
    """Submits with the submit button name=value (e.g. dry_run), or sets a
    field of that name when the form has one instead of buttons."""
    from selenium.webdriver.common.by import By
    buttons = [b for b in form.find_elements(By.NAME, name) if (b.get_attribute("type") or "").lower() == "submit"]
    if buttons:
        match = [b for b in buttons if b.get_attribute("value") == value]
        if not match:
            raise Failed(f"form#{form.get_attribute('id')}: no submit button {name}={value}")
        mark_page()
        match[0].click()
        poll("the page after submitting", new_page, timeout=120)
        no_alert_and_not_pwned()
        return
    boxes = form.find_elements(By.NAME, name)
    if boxes and (boxes[0].get_attribute("type") or "").lower() == "checkbox":
        if boxes[0].is_selected() != (value == "true"):
            boxes[0].click()
    else:
        fill(form, name, value)
    submit(form)


def phase_login():
    go("/login")
    one("form#login")
    check(css("form#login input[name=user]") and css("form#login input[name=password][type=password]"),
          "form#login has fields user and password (type=password)")
    shot("login")
    login("rob_releaser", "not-the-password")
    r, reason, _ = refusal()
    check(not css("#whoami"), "a wrong password: not logged in")
    check(css("form#login"), "a wrong password: the login form again")
    page = driver.page_source
    check(not re.search(r"Traceback|std::|terminate called|what\(\)", page), "a wrong password: no stack trace")
    check("password" in (r.text or "").lower() or "authentication" in (r.text or "").lower(),
          f"a wrong password: the refusal says so ({r.text!r})")
    shot("login-refused")
    login("nobody_at_all", "x")
    refusal()
    check(not css("#whoami"), "an unknown user: not logged in, a refusal shown")


def phase_reader():
    login("rita_reader", USERS["rita_reader"][1])
    logged_in_as("rita_reader")
    c = session_cookie()
    check(c is not None, "the session cookie rulekeeper_session is set", str(driver.get_cookies()))
    check(c.get("httpOnly") is True, "rulekeeper_session is HttpOnly", str(c))
    check(c.get("sameSite") == "Strict", "rulekeeper_session is SameSite=Strict", str(c))
    check(c.get("path") == "/", "rulekeeper_session has Path=/", str(c))
    check(len(c.get("value", "")) >= 32, "the session id is long (>= 32 characters)", str(len(c.get("value", ""))))
    check(driver.execute_script("return document.cookie").find("rulekeeper_session") < 0,
          "scripts cannot read the session cookie")
    go("/")
    for site in ("ipc2", "ipc1"):
        check(site in one("body").text, f"overview names {site}")
    shot("overview")

    go("/rules")
    check(text_present_exactly("pricing.discount"), "rules: pricing.discount listed")
    shot("rules")
    go("/rules/pricing.discount")
    check("pricing.discount" in h1(), "rule page h1 names the rule")
    one("form#activate", "the reader sees the activate form (the database decides)")
    before = history_count()
    form = show_gate("sl", "1")  # sl back to 1: no hotfix in the way, only the role
    fill(form, "reason", "reader tries")
    submit(form)
    r, reason, hint = refusal()
    check(reason and "permission denied" in reason,
          "the reader's activate: refused by the database, its words shown in .refusal-reason", repr(reason))
    check(history_count() == before, "the reader's activate changed nothing (activation_history)")
    check(css("#whoami"), "the refusal page keeps the session and the layout")
    shot("refusal-reader")


def phase_csrf():
    login("rob_releaser", USERS["rob_releaser"][1])
    logged_in_as("rob_releaser")
    sid = session_cookie()["value"]
    go("/rules/pricing.discount")
    token = one("form#activate input[name=csrf_token]").get_attribute("value")
    check(token and len(token) >= 16, "form#activate carries a hidden csrf_token")
    before = history_count()
    fields = {"channel": "sl", "label": "1", "reason": "csrf probe"}
    status, body = http("POST", "/rules/pricing.discount/activate", fields, cookie=sid)
    check(status == 403 and 'class="refusal' in body, "a POST without csrf_token: 403 with a refusal",
          f"status {status}")
    status, body = http("POST", "/rules/pricing.discount/activate", {**fields, "csrf_token": "0" * len(token)},
                        cookie=sid)
    check(status == 403, "a POST with a wrong csrf_token: 403", f"status {status}")
    status, body = http("POST", "/rules/pricing.discount/activate", {**fields, "csrf_token": token})
    check(status in (401, 403) or "form#login" in body or 'id="login"' in body,
          "a POST with the token but no session cookie: refused (login)", f"status {status}")
    check(history_count() == before, "nothing was activated by the refused POSTs")
    status, body = http("POST", "/logout", {}, cookie=sid)
    check(status == 403, "POST /logout without csrf_token: 403 (state-changing)", f"status {status}")
    # The JSON twin of a page: same path, Accept: application/json, the
    # hostile key byte for byte.
    status, body = http("GET", "/rules", cookie=sid, accept="application/json")
    check(status == 200, "GET /rules as JSON: 200", f"status {status}")
    doc = json.loads(body)
    def strings(v):
        if isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)
        elif isinstance(v, str):
            yield v

    found = set(strings(doc))
    check(HOSTILE_KEY in found and "pricing.discount" in found,
          "GET /rules as JSON names pricing.discount and the hostile key exactly")
    # Log out with the page's button: the session is gone at the server.
    go("/")
    submit(one("form#logout"))
    check(not css("#whoami"), "logged out (the page's button): no user shown")
    status, body = http("GET", "/rules", cookie=sid, accept="application/json")
    check(status == 401, "the old session id after logout: 401", f"status {status}")


def phase_hotfix_pages():
    login("hana_hotfix", USERS["hana_hotfix"][1])
    logged_in_as("hana_hotfix")
    go("/hotfixes")
    from selenium.webdriver.common.by import By
    t11 = one('table.diff[data-hotfix="1.1"]', "hotfix 1.1's diff")
    assert_diff_rows(t11, {"/rate": "replaced"}, "hotfixes page, hotfix 1.1")
    t12 = one('table.diff[data-hotfix="1.2"]', "hotfix 1.2's diff")
    assert_diff_rows(t12, {"/cap": "added"}, "hotfixes page, hotfix 1.2")
    check(text_present_exactly(HOSTILE_REASON), "hotfixes page: the hostile reason shown as text, intact")
    shot("hotfixes")
    # The hotfix role may not activate: the database says so.
    go("/rules/pricing.discount")
    before = history_count()
    form = show_gate("sl", "1")
    fill(form, "reason", "hotfix role tries")
    submit(form)
    _, reason, _ = refusal()
    check(reason and "permission denied" in reason, "the hotfix role's activate: refused by the database", reason)
    check(history_count() == before, "the hotfix role's activate changed nothing")

    go("/rules/pricing.discount")
    if not css("tr.diff-replaced, tr.diff-added, tr.diff-removed"):
        show_gate("prod", "2")  # the planned version 2 in prod: what it would undo
    assert_diff_rows(driver.find_element(By.TAG_NAME, "body"), {"/rate": "replaced", "/cap": "added"},
                     "rule page (the hotfixes prod 2 would undo)")
    shot("rule", "table.diff")
    go("/rules/pricing.discount/diff?from=1.2&to=2")
    assert_diff_rows(driver.find_element(By.TAG_NAME, "body"), {"/rate": "replaced", "/cap": "removed"},
                     "diff 1.2 -> 2")
    shot("diff")
    go("/rules")
    marks = css("td span.hotfix-mark")
    check(marks, "rules page: hotfix marks (span.hotfix-mark) in the cells")
    row = [m for m in marks if "pricing.discount" in m.find_element(By.XPATH, "./ancestor::tr").text]
    check(row, "rules page: pricing.discount's prod cell carries span.hotfix-mark")


def phase_acknowledgement():
    from selenium.webdriver.common.by import By
    login("rob_releaser", USERS["rob_releaser"][1])
    logged_in_as("rob_releaser")
    before = history_count("prod")

    def activate(ack):
        go("/rules/pricing.discount")
        form = show_gate("prod", "2")
        boxes = form.find_elements(By.CSS_SELECTOR, "input[name=acknowledge_hotfix]")
        shown = sorted(b.get_attribute("value") for b in boxes)
        for box in boxes:
            if box.is_selected() != (box.get_attribute("value") in ack):
                box.click()
        fill(form, "reason", HOSTILE_ACTIVATE_REASON)
        submit(form)
        return shown

    shown = activate(set())
    _, reason, hint = refusal()
    check(reason and "would undo hotfix" in reason, "activate 2 in prod without acknowledgement: refused by the gate",
          repr(reason))
    check(hint and "acknowledge" in hint, "the refusal's hint says what to acknowledge", repr(hint))
    check(history_count("prod") == before, "refused: prod unchanged")
    shot("activate-refused")
    go("/rules/pricing.discount")
    show_gate("prod", "2")
    shown = sorted(b.get_attribute("value") for b in css("form#activate input[name=acknowledge_hotfix]"))
    check(shown == ["1.1", "1.2"], "the gate shows a box for exactly the hotfixes version 2 would undo", str(shown))
    for label in shown:
        t = one(f'table.diff[data-hotfix="{label}"]', f"hotfix {label}'s diff beside its box")
        check(t.find_elements(By.CSS_SELECTOR, "tr.diff-added, tr.diff-removed, tr.diff-replaced"),
              f"hotfix {label}'s diff has highlighted rows")
    shot("activate-gate", "form#activate")
    activate({"1.1"})
    _, reason, _ = refusal()
    check(reason and "1.2" in reason, "acknowledging only 1.1: refused, names 1.2", repr(reason))
    check(history_count("prod") == before, "refused: prod unchanged")
    shown_last = activate(set(shown))
    check(shown_last == shown, "the boxes shown at the last submission are the same", str(shown_last))
    done = one("div.done[role=status]", "activation done")
    check(done.is_displayed(), f"activate 2 with {shown} acknowledged: done ({done.text[:100]!r})")
    shot("activate-done")
    row = psql("ipc2", "SELECT json_build_object('label', label, 'actor', actor, 'ack', acknowledged)"
                       " FROM rulekeeper.activation_history WHERE rule_key = 'pricing.discount' AND channel = 'prod'"
                       " ORDER BY epoch DESC LIMIT 1")
    row = json.loads(row)
    check(row["label"] == "2", "activation_history: prod serves 2")
    check(row["actor"] == "rob_releaser", "activation_history: the actor is the person who logged in", row["actor"])
    ack = row["ack"]
    labels = ack.get("acknowledged_hotfixes") if isinstance(ack, dict) else ack
    check(sorted(labels or []) == shown, f"the recorded acknowledgement {labels} equals what the page showed {shown}",
          json.dumps(ack))
    # The journal's acknowledgement entry names exactly the hotfixes shown.
    entries = json.loads(psql("ipc2", "SELECT coalesce(json_agg(json_build_object('kind', kind, 'actor', actor,"
                                      " 'payload', payload) ORDER BY origin_seq DESC), '[]') FROM ("
                                      "SELECT * FROM rulekeeper.journal WHERE rule_key = 'pricing.discount'"
                                      " ORDER BY origin_seq DESC LIMIT 4) j"))
    acks = [e for e in entries if e["kind"] == "acknowledgement"]
    check(acks and acks[0]["actor"] == "rob_releaser", "the journal has the releaser's acknowledgement entry",
          json.dumps(entries)[:400])
    payload = acks[0]["payload"]
    named = payload.get("acknowledged_hotfixes")
    if named is None:
        named = [h["label"] for h in payload.get("hotfixes", [])]
    check(sorted(named) == shown, f"the journal's acknowledgement names exactly what the page showed {shown}",
          json.dumps(payload)[:400])


def phase_hostile():
    login("rita_reader", USERS["rita_reader"][1])
    go("/rules?q=" + urllib.parse.quote("hostile."))
    check(text_present_exactly(HOSTILE_KEY), "rules page: the hostile key shown as text, intact")
    from selenium.webdriver.common.by import By
    links = [a for a in css("a[href]") if a.text.strip() == HOSTILE_KEY]
    check(links, "rules page: the hostile key links to its rule")
    href = urllib.parse.urlsplit(links[0].get_attribute("href")).path
    encoded = href[len("/rules/"):]
    check(href.startswith("/rules/") and not re.search(r"[<>\"'/ ]", encoded)
          and urllib.parse.unquote(encoded) == HOSTILE_KEY, f"the link percent-encodes the key ({href})")
    mark_page()
    links[0].click()
    poll("the hostile rule's page", new_page)
    no_alert_and_not_pwned()
    check(h1().strip().endswith(HOSTILE_KEY) or HOSTILE_KEY in h1(), "rule page h1: the hostile key, intact")
    body = driver.find_element(By.TAG_NAME, "body").text
    check("described as " + HOSTILE_NOTE in body, "rule page: the hostile description intact")
    shot("hostile")
    # The body, as the diff page shows it (both versions side by side).
    go("/rules/" + key_path(HOSTILE_KEY) + "/diff?from=1&to=1")
    body = driver.find_element(By.TAG_NAME, "body").text
    for s in (HOSTILE_NOTE, HOSTILE_IMG_KEY, "<i>x</i>"):
        check(s in body or json.dumps(s, ensure_ascii=False)[1:-1] in body,
              f"diff page: the hostile body's text {s[:30]!r}... shown intact")
    check(not css("body script[src]") or all("127.0.0.1" in s.get_attribute("src") for s in css("script[src]")),
          "no script from elsewhere")
    go("/rules/" + key_path("pricing.discount"))
    check(text_present_exactly(HOSTILE_REASON) or HOSTILE_REASON in driver.find_element(By.TAG_NAME, "body").text,
          "rule page history: the hostile hotfix reason intact")


def phase_sites_and_reconcile():
    from selenium.webdriver.common.by import By
    # IPC2 gets a hotfix IPC1 never sees, dies; IPC1 is failed over to, and
    # IPC2 comes back as a second primary: the sites differ.
    login("rob_releaser", USERS["rob_releaser"][1])
    go("/")
    check(not css('.site-down[data-site="ipc1"]'), "overview: ipc1 up, not marked down")
    pg_ctl("ipc1", "stop", "-m", "fast")
    # The overview refreshes itself (its #live section): ipc1 shows as down
    # without a reload.
    one("#live", "the overview's live section")
    poll("the overview to show ipc1 down without a reload", lambda: css('#live .site-down[data-site="ipc1"]'),
         timeout=60)
    ok("the overview refreshed itself: ipc1 marked down without a reload")
    for path in ("/", "/rules", "/sites"):
        go(path)
        check(css('.site-down[data-site="ipc1"]'), f"{path} with ipc1 down: .site-down[data-site=ipc1]")
        check(css("#whoami"), f"{path} with ipc1 down: the page is whole (#whoami, h1 {h1()!r})")
        if path == "/":
            shot("site-down")
    fix = write("risk.json", '{"max": 1500}')
    rulectl("hotfix", "--yes", "--site", "ipc2", "--rule", "risk.limit", "--body-file", fix, "--reason",
            "limit raised for quarter end")
    pg_ctl("ipc2", "stop", "-m", "immediate")
    pg_ctl("ipc1", "start")
    rulectl("failover", "--yes", "--to", "ipc1", "--force")
    # ipc2 comes back read-only (a standby following nobody, not yet rewound):
    # its orphaned hotfix is readable, and there is one primary (reconcile
    # refuses while two sites accept writes).
    signal_file = os.path.join(SANDBOX, "ipc2", "data", "standby.signal")
    open(signal_file, "w").close()
    if os.geteuid() == 0:
        shutil.chown(signal_file, "postgres", "postgres")
    pg_ctl("ipc2", "start")
    ok("ipc2 holds hotfix risk.limit 1.1 that ipc1 lacks; failed over to ipc1; ipc2 back read-only, not rewound")
    go("/sites")
    shot("sites", "td.differs")
    differs = css("td.differs")
    check(differs, "sites page: cells where IPC1 differs from IPC2 (td.differs)")
    plain = {bg(td) for td in css("td:not(.differs)")} or {"none"}
    check(bg(differs[0]) != "none" and bg(differs[0]) not in plain,
          f"sites page: td.differs is highlighted (background {bg(differs[0])}, plain cells {sorted(plain)})")
    go("/rules")
    rows = [d for d in css("td.differs") if "risk.limit" in d.find_element(By.XPATH, "./ancestor::tr").text]
    check(rows, "rules page: risk.limit's cell differs (td.differs)")
    check(not [d for d in css("td.differs") if "pricing.discount" in d.find_element(By.XPATH, "./ancestor::tr").text],
          "rules page: pricing.discount, the same at both sites, has no td.differs")
    plain = {bg(td) for td in css("td:not(.differs)")} or {"none"}
    check(bg(rows[0]) not in plain, f"rules page: td.differs is highlighted ({bg(rows[0])}, plain {sorted(plain)})")
    go("/sites")
    form = one("form#reconcile")
    fill(form, "from", "ipc2")
    fill(form, "to", "ipc1")
    click_submit(form, "dry_run", "true")
    done = one("div.done[role=status]", "the dry run's result")
    check("risk.limit" in done.text or "risk.limit" in one("body").text, "the dry run lists risk.limit")
    check(psql("ipc1", "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key = 'risk.limit'"
                       " AND label = '1.1'") == "0", "the dry run changed nothing at ipc1")
    shot("reconcile-dry-run", "form#reconcile")
    form = one("form#reconcile")
    fill(form, "from", "ipc2")
    fill(form, "to", "ipc1")
    click_submit(form, "dry_run", "false")
    one("div.done[role=status]", "the reconcile's result")
    q = psql("ipc1", "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = 'risk.limit' AND label = '1.1'")
    check(q == "recovered", "ipc2's hotfix is at ipc1 now, recovered (not activated)", repr(q))
    shot("reconcile-done", "form#reconcile")


def phase_tls():
    """A second portal with the certificate and key of the config: HTTPS,
    and the session cookie gains Secure."""
    cert, key = os.path.join(BASE, "portal.crt"), os.path.join(BASE, "portal.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert])
    with open(config_file(), encoding="utf-8") as f:
        text = f.read()
    cfg = write("portal-tls.toml", text + f'\n[portal]\nlisten = "127.0.0.1:{TLS_PORTAL_PORT}"\n'
                                          f'tls_certificate = "{cert}"\ntls_private_key = "{key}"\n')
    p = daemon("portal-tls", [RULECTL, "portal", "--config", cfg], "portal-tls.log")
    wait_port(TLS_PORTAL_PORT, "rulectl portal with TLS", p)
    import ssl
    ctx = ssl.create_default_context(cafile=cert)
    with urllib.request.urlopen(f"https://127.0.0.1:{TLS_PORTAL_PORT}/login", context=ctx, timeout=30) as r:
        check(r.status == 200, "the TLS portal serves /login over HTTPS (certificate of the config)")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{TLS_PORTAL_PORT}/login", timeout=10).read()
        plain = True
    except Exception:  # noqa: BLE001 - any failure of plain HTTP is the point
        plain = False
    check(not plain, "the TLS portal does not answer plain HTTP")
    driver.delete_all_cookies()
    driver.get(f"https://127.0.0.1:{TLS_PORTAL_PORT}/login")
    form = one("form#login")
    fill(form, "user", "rita_reader")
    fill(form, "password", USERS["rita_reader"][1])
    submit(form)
    logged_in_as("rita_reader")
    c = session_cookie()
    check(c is not None and c.get("secure") is True and c.get("httpOnly") is True and c.get("sameSite") == "Strict",
          "over TLS the session cookie is Secure, HttpOnly, SameSite=Strict", str(c))
    driver.delete_all_cookies()


HOSTILE_HOLD_REASON = "freeze <script>window.__pwned='hold';alert(6)</script> \"Q4\" 'é✓'"


def hold_state(site, channel):
    return json.loads(psql("ipc2", "SELECT row_to_json(s) FROM rulekeeper.notification_state("
                                   f"{sql_str(site)}) s WHERE channel = {sql_str(channel)}"))


def gateway_url(site):
    """The listen address `sandbox up` gave the site's pod gateway (its rulectl.toml)."""
    with open(os.path.join(SANDBOX, "rulectl.toml"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\[sites\." + site + r"\.gateway\][^\[]*?listen\s*=\s*['\"]([^'\"]+)['\"]", text)
    check(m, f"the sandbox's rulectl.toml has a gateway for {site}")
    return "http://" + m.group(1)


def phase_pods():
    # A pod loads prod's rules at ipc1's gateway; the Pods page must list it
    # with the epoch that gateway served it (read from the gateway's /v1/pods,
    # the reading `rulectl pods` prints).
    req = urllib.request.Request(gateway_url("ipc1") + "/v1/channels/prod/rules",
                                 headers={"Rulekeeper-Pod": "browser-pod-1", "Rulekeeper-Pod-Labels": "zone=b"})
    with urllib.request.urlopen(req, timeout=10) as r:
        served = json.loads(r.read())["epoch"]
    login("rita_reader", USERS["rita_reader"][1])
    go("/pods")
    shot("pods")
    rows = css('tr.pod[data-pod="browser-pod-1"][data-site="ipc1"]')
    check(len(rows) == 1, "/pods lists the pod that loaded prod at ipc1's gateway", str(len(rows)))
    if rows:
        from selenium.webdriver.common.by import By
        cell = rows[0].find_element(By.CSS_SELECTOR, "td.served-epoch").text
        check(cell == str(served), "/pods shows the epoch that gateway served it", f"{cell!r} vs {served}")
    status, body = http("GET", "/pods", cookie=session_cookie()["value"], accept="application/json")
    check(status == 200, "the JSON twin of /pods answers", f"{status}: {body[:300]}")
    twin = json.loads(body)
    listed = [p for g in twin.get("gateways", []) if g.get("site") == "ipc1" for p in g.get("pods", [])
              if p.get("pod") == "browser-pod-1"]
    check(len(listed) == 1 and listed[0].get("served_epoch") == served and listed[0].get("labels") == {"zone": "b"},
          "the JSON twin of /pods lists it too, with its labels", json.dumps(listed))
    form = one("form#hold", "the hold form on /pods")
    fill(form, "site", "ipc2")
    fill(form, "channel", "prod")
    fill(form, "reason", "reader tries")
    submit(form)
    _, reason, _ = refusal()
    check(reason and "permission denied" in reason, "the reader's hold: refused by the database", repr(reason))
    check(not hold_state("ipc2", "prod")["held"], "the reader's hold changed nothing")

    login("rob_releaser", USERS["rob_releaser"][1])
    go("/pods")
    form = one("form#hold")
    fill(form, "site", "ipc2")
    fill(form, "channel", "prod")
    fill(form, "reason", HOSTILE_HOLD_REASON)
    submit(form)
    one("div.done[role=status]", "the hold's result")
    state = hold_state("ipc2", "prod")
    check(state["held"] and state["held_by"] == "rob_releaser", "ipc2 prod is held, by the person logged in",
          json.dumps(state))
    check(state["reason"] == HOSTILE_HOLD_REASON, "the hold's reason recorded exactly as typed", repr(state["reason"]))
    go("/pods")
    check(text_present_exactly(HOSTILE_HOLD_REASON), "/pods shows the hold's reason as text, intact")
    shot("pods-held")
    form = one("form#release")
    fill(form, "site", "ipc2")
    fill(form, "channel", "prod")
    fill(form, "reason", "released by the browser test")
    submit(form)
    one("div.done[role=status]", "the release's result")
    check(not hold_state("ipc2", "prod")["held"], "ipc2 prod released")


PHASES = [phase_login, phase_reader, phase_csrf, phase_hotfix_pages, phase_acknowledgement, phase_hostile,
          phase_pods, phase_tls, phase_sites_and_reconcile]


def main():
    t0 = time.monotonic()
    failed_setup = None
    try:
        set_up_data()
        start_portal()
        start_browser()
    except Exception as e:  # noqa: BLE001
        failed_setup = e
        traceback.print_exc()
    if failed_setup is None:
        for phase in PHASES:
            name = phase.__name__[len("phase_"):]
            log(f"--- {name}")
            try:
                phase()
            except Exception as e:  # noqa: BLE001 - every failure is reported, the next phase runs
                failures.append(name)
                log(f"FAIL in {name}: {e}")
                if not isinstance(e, Failed):
                    traceback.print_exc()
                if driver is not None:
                    try:
                        driver.save_screenshot(os.path.join(BASE, f"failed-{name}.png"))
                    except Exception:  # noqa: BLE001
                        pass
    left = stop_everything()
    if left:
        log("FAIL: processes of this test outlived it: " + "; ".join(f"{p} {c}" for p, c in left))
        failures.append("cleanup")
    else:
        ok("no sandbox server, portal, chromedriver or Chromium of this test remains")
    took = time.monotonic() - t0
    if failed_setup is not None:
        log(f"FAIL: setup: {failed_setup}")
        failures.append("setup")
    if failures:
        log(f"{checks} checks passed; FAILED phases: {', '.join(failures)} ({took:.0f}s; logs and screenshots "
            f"in {BASE})")
        return 1
    log(f"{checks} checks passed, {len(PHASES)} phases ({took:.0f}s)")
    if UPDATE_DOCS:
        log(f"screenshots copied to {DOCS_SHOTS}")
    shutil.rmtree(BASE, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
