#!/bin/sh
# expect_fail.sh TIMEOUT_S REGEX CMD...: passes when CMD ends within TIMEOUT_S seconds with a
# non-zero status and its output (stdout+stderr) matches the extended regex REGEX ("-": any).
# A hang (killed by timeout) fails, so "the job ends" is tested, not just "it failed".
t=$1; re=$2; shift 2
out=$(timeout -k 5 "$t" "$@" 2>&1); rc=$?
printf '%s\n' "$out" | tail -20
echo "expect_fail: exit status $rc"
if [ $rc -eq 0 ]; then echo "expect_fail: FAIL: command succeeded"; exit 1; fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "expect_fail: FAIL: timed out after ${t}s"; exit 1; fi
if [ "$re" != "-" ] && ! printf '%s\n' "$out" | grep -Eq "$re"; then
  echo "expect_fail: FAIL: output does not match /$re/"; exit 1
fi
echo "expect_fail: ok"
