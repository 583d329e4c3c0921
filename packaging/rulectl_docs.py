#!/usr/bin/env python3
"""rulectl's man page and bash completion, generated from its help texts.

Usage: rulectl_docs.py RULECTL OUTDIR

Runs `RULECTL --help` and `RULECTL <verb> [<sub>] --help` for every
subcommand CLI11 lists, and writes OUTDIR/rulectl.1 (roff), OUTDIR/rulectl.1.gz
(what the package ships; gzip -n, so the build is reproducible) and
OUTDIR/rulectl.bash-completion. Generated at build time (packaging/CMakeLists.txt)
so that a new verb or flag is in both the day it is added: the help text is
the one source. help2man only reads the top-level --help; this walks the tree.
"""
import gzip
import os
import re
import subprocess
import sys

ENTRY = re.compile(r"^  (\S.*?)(?:\s{2,}(\S.*))?$")
SECTIONS = ("Options:", "Positionals:", "Subcommands:")


def help_of(rulectl, path):
    r = subprocess.run([rulectl, *path, "--help"], capture_output=True, text=True,
                       env={**os.environ, "RULECTL_CONFIG": ""})
    if r.returncode != 0:
        sys.exit(f"rulectl_docs: `rulectl {' '.join(path)} --help` exited {r.returncode}: {r.stderr}")
    return r.stdout


def parse(text):
    """CLI11's help: description, Usage:, sections of two-space entries, footer."""
    lines = text.rstrip("\n").split("\n")
    cmd = {"description": [], "usage": "", "sections": {}, "footer": []}
    i = 0
    while i < len(lines) and not lines[i].startswith("Usage:"):
        if lines[i].strip():
            cmd["description"].append(lines[i].strip())
        i += 1
    if i == len(lines):
        sys.exit("rulectl_docs: no Usage: line in a help text")
    cmd["usage"] = lines[i][len("Usage:"):].strip()
    i += 1
    section = None
    for line in lines[i:]:
        if line in SECTIONS:
            section = cmd["sections"].setdefault(line[:-1], [])
            continue
        if not line.strip():
            section = None if section is not None and section else section
            continue
        if section is not None and line.startswith("   "):
            # a continuation of the entry above (its description)
            last = section[-1]
            last[1] = (last[1] + " " + line.strip()).strip()
            continue
        if section is not None and line.startswith("  "):
            m = ENTRY.match(line)
            section.append([m.group(1).strip(), (m.group(2) or "").strip()])
            continue
        section = None
        cmd["footer"].append(line.strip())
    return cmd


def walk(rulectl, path=()):
    cmd = parse(help_of(rulectl, list(path)))
    cmd["path"] = list(path)
    yield cmd
    for name, _ in cmd["sections"].get("Subcommands", []):
        yield from walk(rulectl, (*path, name))


def option_names(entry_name):
    """'-h,--help' -> ['-h', '--help']; '--site TEXT' -> ['--site'] (takes a value)."""
    head, _, value = entry_name.partition(" ")
    return [n for n in head.split(",") if n.startswith("-")], bool(value.strip())


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # groff reads ASCII: every other character as its Unicode escape (an em dash: \[u2014])
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)
    return "\n".join(("\\&" + l) if l[:1] in (".", "'") else l for l in text.split("\n"))


def man_page(cmds, version):
    top = cmds[0]
    out = [
        '.\\" Generated from rulectl\'s help texts by packaging/rulectl_docs.py; do not edit.',
        f'.TH RULECTL 1 "" "rulectl {version}" "rulekeeper"',
        ".SH NAME",
        "rulectl \\- " + roff("the control plane of rulekeeper: releases, channels, hotfixes, failover, rejoin, "
                             "reconcile and status across the sites of every environment"),
        ".SH SYNOPSIS",
        ".B rulectl",
        "[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-json\\fR] [\\fB\\-\\-yes\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        roff(" ".join(top["description"])),
        ".PP",
        roff("The global options may also follow the command (rulectl status --json). "
             "Production changes ask for confirmation on a terminal; without one they need \\-\\-yes."),
        ".SH OPTIONS",
    ]
    for name, desc in top["sections"].get("Options", []):
        out += [".TP", "\\fB" + roff(name) + "\\fR", roff(desc)]
    out.append(".SH COMMANDS")
    for c in cmds[1:]:
        out += [".SS " + roff("rulectl " + " ".join(c["path"])), roff(" ".join(c["description"]))]
        out += [".PP", "Usage: \\fB" + roff(c["usage"]) + "\\fR"]
        for kind in ("Positionals", "Options"):
            entries = [e for e in c["sections"].get(kind, []) if e[0] != "-h,--help"]
            for name, desc in entries:
                out += [".TP", "\\fB" + roff(name) + "\\fR", roff(desc)]
        if c["footer"]:
            out += [".PP", roff(" ".join(c["footer"]))]
    out += [
        ".SH EXIT STATUS",
        roff(" ".join(top["footer"]) or "0 ok."),
        ".SH ENVIRONMENT",
        ".TP", "\\fBRULECTL_CONFIG\\fR",
        roff("the rulectl.toml to read when --config is not given (else ./rulectl.toml)."),
        ".TP", "\\fBPGPASSFILE\\fR, \\fBPGSERVICEFILE\\fR, \\fBPGSSLROOTCERT\\fR",
        roff("read by libpq for every site's conninfo (passwords, service files, TLS)."),
        ".SH FILES",
        ".TP", "\\fI/etc/rulekeeper/rulectl.toml\\fR",
        roff("an example configuration: the sites, their conninfo and environment, state_dir."),
        ".TP", "\\fI/lib/systemd/system/rulectl\\-watch@.service\\fR",
        roff("rulectl watch as a service; the instance names /etc/rulekeeper/INSTANCE.toml."),
        ".TP", "\\fI/lib/systemd/system/rulectl\\-gateway@.service\\fR",
        roff("the pod gateway of an E3 node as a service; the instance names the node ([sites.NODE.gateway] of /etc/rulekeeper/rulectl.toml)."),
        ".SH SEE ALSO",
        roff("The deployment guide (docs/deploy.md) and the operations guide (docs/) of rulekeeper."),
        "",
    ]
    return "\n".join(out)


def bash_completion(cmds):
    subs, opts, valued = {}, {}, set()
    for c in cmds:
        key = " ".join(["rulectl", *c["path"]])  # never empty: bash refuses an empty subscript
        subs[key] = " ".join(n for n, _ in c["sections"].get("Subcommands", []))
        names = []
        for entry, _ in c["sections"].get("Options", []):
            ns, takes_value = option_names(entry)
            names += ns
            if takes_value:
                valued.update(ns)
        opts[key] = " ".join(names)
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    lines = [
        "# bash completion for rulectl. Generated from rulectl's help texts by",
        "# packaging/rulectl_docs.py; do not edit.",
        "_rulectl() {",
        "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path=rulectl w i",
        "  local -A subs=(" + " ".join(f"[{q(k)}]={q(v)}" for k, v in subs.items()) + ")",
        "  local -A opts=(" + " ".join(f"[{q(k)}]={q(v)}" for k, v in opts.items()) + ")",
        "  local valued=" + q(" " + " ".join(sorted(valued)) + " "),
        "  for ((i = 1; i < COMP_CWORD; i++)); do",
        "    w=${COMP_WORDS[i]}",
        "    if [[ $w == -* ]]; then",
        "      [[ $valued == *\" $w \"* ]] && ((i++))",
        "      continue",
        "    fi",
        "    local next=\"$path $w\"",
        "    [[ -n ${subs[$next]+x} ]] && path=$next",
        "  done",
        "  if [[ $valued == *\" $prev \"* ]]; then",
        "    COMPREPLY=($(compgen -f -- \"$cur\"))",
        "    return",
        "  fi",
        "  if [[ $cur == -* ]]; then",
        "    COMPREPLY=($(compgen -W \"${opts[$path]} ${opts[rulectl]}\" -- \"$cur\"))",
        "  else",
        "    COMPREPLY=($(compgen -W \"${subs[$path]}\" -- \"$cur\"))",
        "  fi",
        "}",
        "complete -F _rulectl rulectl",
        "",
    ]
    return "\n".join(lines)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rulectl, outdir = sys.argv[1], sys.argv[2]
    cmds = list(walk(rulectl))
    v = subprocess.run([rulectl, "--version"], capture_output=True, text=True, env={**os.environ, "RULECTL_CONFIG": ""})
    m = re.search(r"rulectl (\S+)", v.stdout)
    if not m:
        sys.exit(f"rulectl_docs: no version in `rulectl --version`: {v.stdout!r} {v.stderr!r}")
    if len(cmds) < 2:
        sys.exit("rulectl_docs: rulectl --help lists no subcommand")
    os.makedirs(outdir, exist_ok=True)
    page = man_page(cmds, m.group(1))
    with open(os.path.join(outdir, "rulectl.1"), "w") as f:
        f.write(page)
    with open(os.path.join(outdir, "rulectl.1.gz"), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as z:
            z.write(page.encode())
    with open(os.path.join(outdir, "rulectl.bash-completion"), "w") as f:
        f.write(bash_completion(cmds))
    print(f"rulectl_docs: {len(cmds) - 1} commands documented in {outdir}")


if __name__ == "__main__":
    main()
