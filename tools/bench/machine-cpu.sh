#!/usr/bin/env bash
# Whole-machine CPU per command (all cores, from /proc/stat) of the same redis-benchmark run against the cluster
# directly (--cluster) and through a router port, alternating, and what that bounds. On a CPU-bound machine the
# ops/s ratio router ÷ direct cannot exceed direct's machine CPU per command ÷ the router run's: the client,
# the Redis processes and the gateway share the cores.
#
#   tools/bench/machine-cpu.sh --cluster HOST:PORT --router HOST:PORT [--rounds 3] [--requests 200000] [--tests set,get,incr] [--pipelines "1 16"]
set -euo pipefail
die() { echo "machine-cpu: $*" >&2; exit 2; }
# shellcheck source=tools/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cluster="" router="" rounds=3 requests=200000 tests="set,get,incr" pipelines="1 16"
while (($# > 0)); do
  case "$1" in
    --cluster) cluster="$2"; shift 2 ;;
    --router) router="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    --pipelines) pipelines="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[[ -n "$cluster" && -n "$router" ]] || die "usage: $0 --cluster HOST:PORT --router HOST:PORT [...]"
pipelined_requests=$((requests * 5))   # as the bench tools: pipelined runs last long enough too

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }   # user nice system irq softirq, in ticks
hz=$(getconf CLK_TCK)

run() { # target test pipeline -> "ops machine_us_per_cmd"
  local target="$1" test="$2" p="$3" n before after out ops
  n=$(requests_for "$p")
  before=$(busy)
  if [[ "$target" == direct ]]; then
    out=$(redis-benchmark -h "$(host_of "$cluster")" -p "$(port_of "$cluster")" --cluster -c 50 -n "$n" -P "$p" -r 1000000 -t "$test" --csv 2>/dev/null | tail -1)
  else
    out=$(redis-benchmark -h "$(host_of "$router")" -p "$(port_of "$router")" -c 50 -n "$n" -P "$p" -r 1000000 -t "$test" --csv 2>/dev/null | tail -1)
  fi
  after=$(busy)
  ops=$(echo "$out" | awk -F, '{gsub(/"/,"",$2); print $2}')
  awk -v b="$before" -v a="$after" -v n="$n" -v hz="$hz" -v ops="$ops" 'BEGIN{printf "%s %.2f\n", ops, (a-b)/hz*1e6/n}'
}

echo "test P round  direct_ops direct_us  router_ops router_us  ops_ratio  bound(direct_us/router_us)"
for test in ${tests//,/ }; do
  for p in $pipelines; do
    for r in $(seq 1 "$rounds"); do
      read -r dops dus < <(run direct "$test" "$p")
      read -r rops rus < <(run router "$test" "$p")
      awk -v t="$test" -v p="$p" -v r="$r" -v dops="$dops" -v dus="$dus" -v rops="$rops" -v rus="$rus" \
        'BEGIN{printf "%-5s %-3s %-5s %10.0f %9.2f  %10.0f %9.2f  %9.2f  %9.2f\n", t, p, r, dops, dus, rops, rus, rops/dops, dus/rus}'
    done
  done
done
