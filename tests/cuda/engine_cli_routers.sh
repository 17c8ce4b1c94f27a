#!/usr/bin/env bash
# `grace run --backend cuda` with every registered router (primary and tar route on the GPU, the
# others on the host), trace and gate routing, two ranks started here over a rendezvous folder,
# outputs checked against the single-process reference (--check), and with trace routing the
# cross-node rows equal the cpu backend's for the same router (the same decisions). Skips (exit
# 77) without a GPU.
# With one GPU both ranks share it as two emulated hosts (a distinct NCCL_HOSTID each, NCCL's
# socket transport over loopback): NCCL refuses two ranks of one host on one GPU.
#   tests/cuda/engine_cli_routers.sh GRACE_BIN
set -uo pipefail
GRACE=$1
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU') || ngpu=0
[ "$ngpu" -ge 1 ] || { echo "engine_cli_routers: no CUDA GPU: skipped"; exit 77; }
[ -x "$GRACE" ] || { echo "engine_cli_routers: $GRACE missing"; exit 1; }
command -v python3 > /dev/null || { echo "engine_cli_routers: python3 (to read the runs' JSON) missing"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The router registry, as the CLI's own error message lists it.
routers=$("$GRACE" evaluate --trace synthetic:deepseek-v2-lite:64 --placement none --router '?' 2>&1 |
  sed -n 's/.*(valid: \(.*\))$/\1/p' | tr -d ,)
[ -n "$routers" ] || { echo "engine_cli_routers: could not read the router list"; exit 1; }
"$GRACE" plan --model deepseek-v2-lite --topology 2x1 --policy grace -o "$work/pl.json" > /dev/null || exit 1
# One run of 2 ranks: run BACKEND ROUTING ROUTER -> rank r's JSON in $work/BACKEND.ROUTER.ROUTING.rR.
run() {
  local backend=$1 routing=$2 router=$3 rdv pids=() r ok=1
  rdv=$(mktemp -d "$work/rdv.XXXXXX")
  for r in 0 1; do
    one_gpu=()
    [ "$ngpu" -lt 2 ] && one_gpu=(NCCL_HOSTID=grace-test-host$r NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1
                                  NCCL_IB_DISABLE=1 NCCL_SOCKET_IFNAME=lo)
    env "${one_gpu[@]}" GRACE_RANK=$r GRACE_SIZE=2 GRACE_LOCAL_RANK=$((r % ngpu)) NCCL_NVLS_ENABLE=0 \
      timeout 120 "$GRACE" run --backend "$backend" --rendezvous "$rdv" --routing "$routing" \
      --model deepseek-v2-lite --topology 2x1 --placement "$work/pl.json" --router "$router" --comm hierarchical \
      --batch-tokens 1024 --max-batches 2 --layers $([ "$routing" = gate ] && echo 1 || echo 2) --warmup 1 \
      --check 8 --json > "$work/$backend.$router.$routing.r$r" 2> "$work/$backend.$router.$routing.e$r" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ $ok = 1 ] || { cat "$work/$backend.$router.$routing".[re]*; return 1; }
}
# field FILE: "<check ok> <check error> <cross-node dispatch rows>" of a run's JSON.
field() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["check"]
print(c["ok"], c["rel_err"], d["total"]["dispatch"]["inter_rows"])' "$1" 2>/dev/null
}
fail=0
for router in $routers; do
  for routing in trace gate; do
    if ! run cuda $routing "$router"; then echo "FAIL $router $routing: the run failed"; fail=1; continue; fi
    read -r ok err rows <<< "$(field "$work/cuda.$router.$routing.r0")"
    if [ "${ok:-}" != True ]; then echo "FAIL $router $routing: output check ${ok:-missing} ($err)"; fail=1; continue; fi
    msg="ok   $router $routing: rel. error $err, $rows cross-node dispatch rows"
    if [ $routing = trace ]; then  # the same routing decisions as the cpu backend's host router
      if ! run cpu trace "$router"; then echo "FAIL $router trace: the cpu run failed"; fail=1; continue; fi
      read -r _ _ cpu_rows <<< "$(field "$work/cpu.$router.trace.r0")"
      if [ "$rows" != "$cpu_rows" ]; then
        echo "FAIL $router trace: $rows cross-node dispatch rows on cuda, ${cpu_rows:-?} on cpu"; fail=1; continue
      fi
      msg="$msg (cpu: the same)"
    fi
    echo "$msg"
  done
done
exit $fail
