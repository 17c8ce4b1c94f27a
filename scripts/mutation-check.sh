#!/usr/bin/env bash
# mutation-check.sh: do the tests catch the bugs that matter? Applies each one-line mutation of
# scripts/mutations.txt (format described there) to a scratch copy of the working tree, rebuilds
# only the targets the mutation names, runs the tests that should kill it, and reports which
# mutations survive. Exit 0 only when every mutation applied, compiled and was killed.
#
#   scripts/mutation-check.sh [--list FILE] [--scratch DIR] [ID...]
#
# The scratch copy (default build/mutation/, ignored by git) keeps its build between runs, and
# ccache (if installed) makes the first build cheap when the main build is warm. Not part of
# CI: run it before resolving an issue that touches the mutated modules. Uses 2 build jobs
# (JOBS=N to change).
set -uo pipefail
shopt -u patsub_replacement 2>/dev/null || true  # bash 5.2: '&' in a replacement stays literal

repo=$(cd "$(dirname "$0")/.." && pwd)
list=$repo/scripts/mutations.txt
scratch=$repo/build/mutation
only=()
while [ $# -gt 0 ]; do
  case $1 in
    --list) list=$2; shift 2 ;;
    --scratch) scratch=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "mutation-check: unknown option $1" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done
[ -f "$list" ] || { echo "mutation-check: no mutation list at $list" >&2; exit 2; }
jobs=${JOBS:-2}
src=$scratch/src
bld=$src/build  # same layout as the main build (build/ beside the sources): ccache hits

# --- parse the list into arrays ---------------------------------------------------------------
ids=() files=() finds=() repls=() targets=() tests=()
cur=-1
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    '#'*|'') continue ;;
    '['*']') cur=$((cur + 1)); ids[cur]=${line:1:${#line}-2}; files[cur]=; finds[cur]=; repls[cur]=; targets[cur]=; tests[cur]= ;;
    'file: '*) files[cur]=${line#file: } ;;
    'find: '*) finds[cur]=${line#find: } ;;
    'replace: '*) repls[cur]=${line#replace: } ;;
    'targets: '*) targets[cur]=${line#targets: } ;;
    'tests: '*) tests[cur]=${line#tests: } ;;
    *) echo "mutation-check: $list: cannot parse: $line" >&2; exit 2 ;;
  esac
done < "$list"
n=${#ids[@]}
[ "$n" -gt 0 ] || { echo "mutation-check: $list lists no mutation" >&2; exit 2; }
sel=()
for ((i = 0; i < n; i++)); do
  for f in files finds targets tests; do
    eval "v=\${$f[i]}"
    [ -n "$v" ] || { echo "mutation-check: mutation ${ids[i]}: missing or empty line for '$f'" >&2; exit 2; }
  done
  if [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" ${ids[i]} "* ]]; then sel+=("$i"); fi
done
[ ${#sel[@]} -gt 0 ] || { echo "mutation-check: none of '${only[*]}' is in $list" >&2; exit 2; }

# --- scratch copy of the working tree (tracked + untracked, not ignored) ------------------------
mkdir -p "$src"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | (cd "$src" && tar -xf -) ||
  { echo "mutation-check: cannot copy the tree to $src" >&2; exit 2; }
# Tests that read ../shared/data (beside the sources) skip without it: give the copy the same.
[ -d "$repo/../shared" ] && [ ! -e "$scratch/shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$scratch/shared"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache) && export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$repo")}
if [ ! -f "$bld/build.ninja" ]; then
  cmake -S "$src" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGRACE_BUILD_BENCHMARKS=OFF "${launcher[@]}" \
    >"$scratch/configure.log" 2>&1 || { echo "mutation-check: configure failed, see $scratch/configure.log" >&2; exit 2; }
fi

build() {  # build TARGETS... (log in $scratch/build.log)
  cmake --build "$bld" -j "$jobs" --target "$@" >"$scratch/build.log" 2>&1
}
run_tests() {  # run_tests REGEX: 0 when every matching test passes
  (cd "$bld" && ctest -R "$1" -j "$jobs" --timeout 300 >"$scratch/ctest.log" 2>&1)
}
count_tests() {
  (cd "$bld" && ctest -N -R "$1" 2>/dev/null | sed -n 's/^Total Tests: //p')
}

# --- baseline: the unmutated tree must pass every selected test ---------------------------------
all_targets=$(for i in "${sel[@]}"; do echo "${targets[i]}"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
echo "mutation-check: building the unmutated copy ($all_targets) in $bld"
# shellcheck disable=SC2086
build $all_targets || { echo "mutation-check: the unmutated tree does not build, see $scratch/build.log" >&2; exit 2; }
for i in "${sel[@]}"; do
  c=$(count_tests "${tests[i]}")
  [ "${c:-0}" -gt 0 ] || { echo "mutation-check: mutation ${ids[i]}: no test matches /${tests[i]}/" >&2; exit 2; }
  run_tests "${tests[i]}" || { echo "mutation-check: mutation ${ids[i]}: its tests fail without the mutation, see $scratch/ctest.log" >&2; exit 2; }
done

# --- each mutation ------------------------------------------------------------------------------
killed=0 survived=() broken=()
for i in "${sel[@]}"; do
  id=${ids[i]} f=${files[i]} find=${finds[i]} repl=${repls[i]}
  orig=$repo/$f mut=$src/$f
  if [ ! -f "$orig" ]; then
    echo "  $id: NO LONGER APPLIES ($f is gone)"; broken+=("$id"); continue
  fi
  content=$(cat "$orig"; printf x); content=${content%x}
  rest=${content#*"$find"}
  if [ "$rest" = "$content" ]; then
    echo "  $id: NO LONGER APPLIES (fragment not found in $f: $find)"; broken+=("$id"); continue
  fi
  if [ "${rest#*"$find"}" != "$rest" ]; then
    echo "  $id: NO LONGER APPLIES (fragment occurs more than once in $f: $find)"; broken+=("$id"); continue
  fi
  printf '%s' "${content/"$find"/"$repl"}" >"$mut"
  c=$(count_tests "${tests[i]}")
  t0=$(date +%s)
  # shellcheck disable=SC2086
  if ! build ${targets[i]}; then
    echo "  $id: DOES NOT COMPILE (fix the replacement; see $scratch/build.log)"; broken+=("$id")
  elif run_tests "${tests[i]}"; then
    echo "  $id: SURVIVED ($c tests /${tests[i]}/ pass, $(( $(date +%s) - t0 )) s)"; survived+=("$id")
  else
    failed=$(grep -c '(Failed)\|(Timeout)\|(Subprocess aborted)\|(SEGFAULT)' "$scratch/ctest.log")
    echo "  $id: killed ($failed of $c tests /${tests[i]}/ fail, $(( $(date +%s) - t0 )) s)"; killed=$((killed + 1))
  fi
  cp "$orig" "$mut"  # a fresh mtime, so the next build recompiles the original
done
# Leave the scratch build unmutated.
# shellcheck disable=SC2086
build $all_targets >/dev/null 2>&1 || true

echo "mutation-check: ${#sel[@]} mutations: $killed killed, ${#survived[@]} survived, ${#broken[@]} not applicable"
[ ${#survived[@]} -eq 0 ] || echo "mutation-check: SURVIVORS: ${survived[*]}"
[ ${#broken[@]} -eq 0 ] || echo "mutation-check: NOT APPLICABLE: ${broken[*]}"
[ ${#survived[@]} -eq 0 ] && [ ${#broken[@]} -eq 0 ]
