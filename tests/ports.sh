#!/usr/bin/env bash
# Reads tests/ports.txt, the one table of the ports tests listen on, for the
# shell scripts (tests/ports.cmake reads it for CMake and C++).
#   tests/ports.sh first NAME    the first port of NAME's range
#   tests/ports.sh last NAME     its last port
#   tests/ports.sh ranges        every range as "first-last,first-last,..."
#                                (what scripts/test.sh reserves)
set -euo pipefail
table="$(dirname "$0")/ports.txt"
case "${1:-}" in
  first|last)
    [ $# -eq 2 ] || { echo "usage: $0 first|last NAME" >&2; exit 2; }
    col=2; [ "$1" = last ] && col=3
    port=$(awk -v n="$2" -v c="$col" '$1 == n { print $c }' "$table")
    [ -n "$port" ] || { echo "$0: no range named $2 in $table" >&2; exit 2; }
    echo "$port" ;;
  ranges)
    awk '/^[a-z]/ { printf "%s%s-%s", sep, $2, $3; sep = "," } END { print "" }' "$table" ;;
  *) echo "usage: $0 first|last NAME | ranges" >&2; exit 2 ;;
esac
