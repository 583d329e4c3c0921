#!/usr/bin/env python3
"""Checks docs/questions.md against the seed's questions.

Every line of docs/questions/seed-questions.txt must appear verbatim as a `### `
heading, each answer must name at least one test (a path under tests/), and
every named path must exist. Prints a summary line.
Usage: check_questions.py REPO_DIR [QUESTIONS_TXT]
(default: REPO_DIR/docs/questions/seed-questions.txt)
"""
import os, re, sys

repo = sys.argv[1]
questions_file = (sys.argv[2] if len(sys.argv) > 2
                  else os.path.join(repo, "docs", "questions", "seed-questions.txt"))
questions = [q.rstrip("\n") for q in open(questions_file, encoding="utf-8") if q.strip()]
doc = open(os.path.join(repo, "docs", "questions.md"), encoding="utf-8").read()

sections = {}
current = None
for line in doc.splitlines():
    if line.startswith("### "):
        current = line[4:]
        sections.setdefault(current, "")
    elif line.startswith("## "):
        current = None
    elif current is not None:
        sections[current] += line + "\n"

failed = []
bad_questions = set()
for q in questions:
    if q not in sections:
        failed.append(f"missing heading: {q!r}")
        bad_questions.add(q)
        continue
    paths = re.findall(r"`(tests/[^`\s]+)`", sections[q])
    if not paths:
        failed.append(f"no test named in the answer to: {q!r}")
        bad_questions.add(q)
    for p in paths:
        if not os.path.exists(os.path.join(repo, p)):
            failed.append(f"answer to {q!r} names {p}, which does not exist")
            bad_questions.add(q)
for f in failed:
    print(f)
print(f"{len(questions) - len(bad_questions)} of {len(questions)} questions answered with existing tests; "
      f"{len(failed)} problems")
sys.exit(1 if failed else 0)
