#!/bin/sh
# expect_one_line.sh TIMEOUT_S REGEX CMD...: passes when CMD ends within TIMEOUT_S seconds with a
# non-zero status and exactly one line of its output (stdout+stderr) matches REGEX: an error of a
# multi-rank job is printed once, not once per rank. Optional environment: EXPECT_STATUS (the exit
# status must be this) and EXPECT_ABSENT (an extended regex no output line may match).
t=$1; re=$2; shift 2
out=$(timeout -k 5 "$t" "$@" 2>&1); rc=$?
printf '%s\n' "$out" | tail -20
echo "expect_one_line: exit status $rc"
if [ $rc -eq 0 ]; then echo "expect_one_line: FAIL: command succeeded"; exit 1; fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "expect_one_line: FAIL: timed out after ${t}s"; exit 1; fi
if [ -n "$EXPECT_STATUS" ] && [ "$rc" != "$EXPECT_STATUS" ]; then
  echo "expect_one_line: FAIL: exit status $rc, expected $EXPECT_STATUS"; exit 1
fi
if [ -n "$EXPECT_ABSENT" ] && printf '%s\n' "$out" | grep -Eq "$EXPECT_ABSENT"; then
  echo "expect_one_line: FAIL: output matches /$EXPECT_ABSENT/"; exit 1
fi
n=$(printf '%s\n' "$out" | grep -Ec "$re")
if [ "$n" != 1 ]; then echo "expect_one_line: FAIL: $n lines match /$re/, expected 1"; exit 1; fi
echo "expect_one_line: ok"
