#!/bin/sh
# expect_ok.sh TIMEOUT_S REGEX CMD...: passes when CMD exits 0 within TIMEOUT_S seconds and its
# output (stdout+stderr) matches the extended regex REGEX ("-": any); a REGEX of several lines
# passes when the output matches every one of them. ctest's PASS_REGULAR_EXPRESSION alone
# ignores the exit status; this checks both.
t=$1; re=$2; shift 2
out=$(timeout -k 5 "$t" "$@" 2>&1); rc=$?
printf '%s\n' "$out" | tail -20
echo "expect_ok: exit status $rc"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "expect_ok: FAIL: timed out after ${t}s"; exit 1; fi
if [ $rc -ne 0 ]; then echo "expect_ok: FAIL: exit status $rc"; exit 1; fi
if [ "$re" != "-" ]; then
  missing=$(printf '%s\n' "$re" | while IFS= read -r r; do
    printf '%s\n' "$out" | grep -Eq -- "$r" || printf '%s\n' "$r"
  done)
  if [ -n "$missing" ]; then echo "expect_ok: FAIL: output does not match /$missing/"; exit 1; fi
fi
echo "expect_ok: ok"
