#!/usr/bin/env bash
# Side-by-side throughput of one cluster master reached directly, through HAProxy (a plain TCP relay
# started by this script) and through the shard port of each ClusterGate given: several builds,
# transports or settings are measured in the same interleaved rounds.
#
#   tools/bench-shard.sh --master HOST:PORT [--gateway [NAME=]HOST:PORT[:PID]]... [--gateway-pid PID]
#                        [--rounds 3] [--requests 200000] [--pipelined-requests N] [--clients 50] [--keyspace 100000]
#                        [--pipelines "1 16"] [--tests set,get] [--warmup 200000] [--nbthread 2]
#                        [--haproxy-port PORT] [--out FILE.csv]
#
# --gateway NAME=HOST:PORT:PID (repeatable): a target named NAME, a shard port of the master's group;
# PID is the gateway process whose CPU is measured (without it the CPU column stays empty). The first
# gateway is the reference of the summary's x_first and cpu/first columns, so with
# --gateway old=... --gateway new=... the new row reads new ÷ old. The old form
# --gateway HOST:PORT --gateway-pid PID names the gateway "gateway".
# Each round runs, for every pipeline depth and test, every target once (direct, haproxy, the gateways;
# the order turns by one each round):
#   redis-benchmark -h H -p P -c 50 -n N -P p -r 100000 --csv SET "key:{TAG}:__rand_int__" xxx   (then GET ...)
# --tests: set, get (default), also incr, lpush, mset (as bench-router.sh's shard target runs them).
# N is --requests at -P 1 and --pipelined-requests (default 5 x --requests) deeper, so pipelined runs last
# long enough (a run well under a second reports ops/s in coarse steps).
# redis-benchmark's own -t set,get keys (key:__rand_int__) would hash to every master and get -MOVED,
# so the keys carry a hash tag TAG chosen (with CLUSTER KEYSLOT) inside the master's slots.
# A run that gets an error reply stops (redis-benchmark exits on the first error) and is reported.
# CPU: utime+stime of the haproxy process and of each gateway's PID from /proc/PID/stat around each run,
# as microseconds per command. All processes (redis-benchmark, proxies, redis) share this machine's cores.
# Before round 1 every gateway gets --warmup requests per test and pipeline (5x for -P > 1), not recorded:
# .NET compiles hot code again with profile data during the first seconds of load (tiered JIT), which a
# long-running gateway has long finished; measured here, a fresh gateway needs about 2 M pipelined
# requests before its CPU per command settles. HAProxy has no JIT; it is not warmed.
# Summary: medians over the rounds; x_haproxy, x_direct, x_first and cpu/first are medians of the
# per-round ratios (same round, test and depth).
# CSV columns: round,target,test,pipeline,ops,p50,p99,cpu_us_per_cmd (ops/s, latencies in ms; empty ops =
# failed run).
set -euo pipefail

readonly ALL_TESTS="set get incr lpush mset"

master="" gateway_pid="" rounds=3 requests=200000 pipelined_requests="" clients=50 keyspace=100000
pipelines="1 16" tests="set,get" nbthread=2 haproxy_port="" out="" warmup=200000
gateway_specs=()

die() {
  echo "bench-shard: $*" >&2
  exit 1
}

# shellcheck source=tools/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
  exit "${1:-1}"
}

while (($# > 0)); do
  case "$1" in
    --master) master="${2:?}"; shift 2 ;;
    --gateway) gateway_specs+=("${2:?}"); shift 2 ;;
    --gateway-pid) gateway_pid="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --pipelined-requests) pipelined_requests="${2:?}"; shift 2 ;;
    --clients) clients="${2:?}"; shift 2 ;;
    --keyspace) keyspace="${2:?}"; shift 2 ;;
    --pipelines) pipelines="${2:?}"; shift 2 ;;
    --tests) tests="${2:?}"; shift 2 ;;
    --nbthread) nbthread="${2:?}"; shift 2 ;;
    --haproxy-port) haproxy_port="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    -h | --help) usage 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[[ -n "$master" ]] || die "--master HOST:PORT is required"
pipelined_requests="${pipelined_requests:-$((requests * 5))}"
for n in "$rounds" "$requests" "$pipelined_requests" "$clients" "$keyspace" "$nbthread"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive number, got '$n'"
done
check_common_options
for tool in redis-cli redis-benchmark haproxy; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
out="${out:-${TMPDIR:-/tmp}/bench-shard-$(date +%Y%m%d-%H%M%S).csv}"
clk_tck="$(getconf CLK_TCK)"

# ---- targets: direct and haproxy (added below), then the gateways in the order given
targets=(direct haproxy)
declare -A addr_of=([direct]="$master") pid_of=([direct]=-) first_of=()
gateways=()
[[ -z "$gateway_pid" || -r "/proc/$gateway_pid/stat" ]] || die "--gateway-pid $gateway_pid: no such process"
for spec in "${gateway_specs[@]}"; do
  parse_target_spec --gateway "$spec" gateway
  [[ -z "${addr_of[$spec_name]:-}" ]] || die "--gateway: the name '$spec_name' is given twice"
  if [[ "$spec_name" == gateway && -z "$spec_pid" ]]; then
    spec_pid="$gateway_pid"
    gateway_pid=""
  fi
  gateways+=("$spec_name")
  targets+=("$spec_name")
  addr_of[$spec_name]="$spec_addr"
  pid_of[$spec_name]="${spec_pid:--}"
done
[[ -z "$gateway_pid" ]] || die "--gateway-pid goes with one --gateway HOST:PORT (no NAME=, no :PID)"
if ((${#gateways[@]} > 1)); then
  for g in "${gateways[@]}"; do first_of[$g]="${gateways[0]}"; done
fi

# ---- the master and a hash tag inside its slots
role="$(rcli "$master" ROLE 2>&1 | head -1)" || true
[[ "$role" == "master" ]] || die "$master is not a master (ROLE says: $role)"
slots="$(rcli "$master" CLUSTER NODES |
  awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) if ($i !~ /^\[/) print $i }')"
[[ -n "$slots" ]] || die "$master owns no slots"
# shellcheck disable=SC2086 # one slot range per word
tag="$(tag_for_slots "$master" $slots)" || die "no hash tag found in the slots of $master"

bench_args() { # TARGET TEST -> args
  local a="${addr_of[$1]}"
  args=(-h "$(host_of "$a")" -p "$(port_of "$a")")
  tagged_command "$2" "$tag"
}

# ---- HAProxy on a free loopback port
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/bench-shard.XXXXXX")"
haproxy_pid=""
trap cleanup EXIT
trap 'exit 130' INT TERM
start_haproxy "$master" "$nbthread" "$haproxy_port"
addr_of[haproxy]="$haproxy_addr"
pid_of[haproxy]="$haproxy_pid"

# Every target must accept a key of the tag (a shard port of another group would answer -MOVED).
for t in "${targets[@]}"; do
  reply="$(rcli "${addr_of[$t]}" SET "{$tag}:bench-check" ok 2>&1)" || true
  [[ "$reply" == "OK" ]] || die "$t ${addr_of[$t]}: SET {$tag}:bench-check answered: $reply"
done

echo "master $master (slots ${slots//$'\n'/ }), hash tag {$tag}, haproxy $haproxy_addr pid $haproxy_pid (nbthread $nbthread)"
for g in "${gateways[@]}"; do
  echo "gateway $g: ${addr_of[$g]} pid ${pid_of[$g]/#-/? (no CPU)}"
done
echo "redis-benchmark -c $clients -n $requests (-P > 1: $pipelined_requests) -r $keyspace, tests: $tests, pipelines: $pipelines, rounds: $rounds; csv: $out"

warm_up "${gateways[@]}"
run_rounds
print_summary direct haproxy
echo "(ops/s; latencies ms; cpu = utime+stime of the target's process per command, µs)"
echo "csv: $out"
if ((errors > 0)); then
  echo "bench-shard: $errors run(s) failed, see ERROR lines above" >&2
  exit 1
fi
