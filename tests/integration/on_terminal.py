#!/usr/bin/env python3
# Runs a command on a pseudo-terminal (its standard input, output and error)
# and answers its confirmation question: on_terminal.py ANSWER PROGRAM ARGS...
# Writes everything the command printed (the question, the echoed answer,
# its output) to stdout and exits with the command's exit code. The answer
# is typed once, when "Proceed? [y/N]" appears; a command that never asks
# gets nothing typed (the output shows it). Used by test_operator_safety.cpp
# (docs/operator-safety.md "Confirmation").
import os
import pty
import sys

answer = sys.argv[1].encode() + b"\n"
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
sent = False
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    out += data
    if not sent and b"Proceed? [y/N]" in out:
        os.write(fd, answer)
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out.replace(b"\r\n", b"\n"))
sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(status))
