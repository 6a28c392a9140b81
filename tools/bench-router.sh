#!/usr/bin/env bash
# Side-by-side throughput of the whole cluster reached directly (redis-benchmark --cluster), through the
# router port of each ClusterGate given, optionally through their shard ports, and through HAProxy in
# front of one master: several builds, transports or settings are measured in the same rounds.
#
#   tools/bench-router.sh --cluster HOST:PORT --router [NAME=]HOST:PORT[:PID]... [--gateway-pid PID]
#                         [--shard [NAME=]HOST:PORT[:PID]]...
#                         [--rounds 3] [--requests 200000] [--pipelined-requests N] [--clients 50] [--keyspace 1000000]
#                         [--pipelines "1 16"] [--tests set,get,incr,lpush,mset] [--warmup 200000]
#                         [--bench-threads N] [--no-haproxy] [--nbthread 2] [--haproxy-port PORT]
#                         [--out FILE.csv]
#
# --router NAME=HOST:PORT:PID (repeatable): target router:NAME; PID is the gateway process whose CPU is
# measured (without it the CPU column stays empty). --shard NAME=HOST:PORT (repeatable): target
# shard:NAME, a shard port of one master group (all --shard ports of the same group); its PID defaults
# to that of the router with the same NAME. The first router (and the first shard) is the reference of
# the summary's x_first and cpu/first columns, so with --router old=... --router new=... the new row reads
# new ÷ old. The old form --router HOST:PORT --gateway-pid PID [--shard HOST:PORT] names both "gateway".
# Targets and what each one runs (redis-benchmark -c CLIENTS -n REQUESTS -P p -r KEYSPACE --csv):
#   direct   --cluster -h/-p any node, -t TEST. In cluster mode redis-benchmark puts a per-client hash
#            tag of its master in the keys (key:{tag}:__rand_int__, mylist:{tag}), so every client talks
#            to one master and MSET's 10 keys share a slot: mset works here, no cross-slot errors.
#            Caveats of redis-benchmark 7.0 --cluster: it always runs one client thread per master
#            (3 event loops vs 1 for the other targets, unless --bench-threads), and a threaded run
#            only notices its end on a 250 ms timer tick, so its ops/s is low by up to
#            250 ms / run time (the summary prints the bound; raise --requests to shrink it). Runs with
#            -P > 1 use --pipelined-requests (default 5 x --requests) so they last long enough too.
#   router:NAME  -t TEST on the router port, plain keys (key:__rand_int__), spread over all masters by the
#            gateway. Differences to direct: MSET's 10 keys hit different slots, so the gateway splits
#            and merges it (more work per request than direct); LPUSH uses the single key "mylist", so
#            every LPUSH goes to one master (direct spreads it over one list per master).
#   shard:NAME  a shard port fronts one master group and answers -MOVED for other slots, so the tests
#            run as custom commands whose keys carry a hash tag TAG inside that master's slots:
#            SET key:{TAG}:__rand_int__ xxx, GET key:{TAG}:__rand_int__, INCR counter:{TAG}:__rand_int__,
#            LPUSH mylist:{TAG} xxx, MSET 10x key:{TAG}:__rand_int__ xxx.
#   haproxy  (when haproxy is installed, unless --no-haproxy) a plain TCP relay (tools/haproxy/
#            bench-master.cfg.tmpl) to the same master as --shard (else the first master), same
#            custom commands as shard. It measures the cost of one relay hop in front of ONE master:
#            the floor for any proxy. Compare it with shard, not with direct/router (those use 3 masters).
# Each round, for every pipeline depth and test, every target runs once, in an order turned by one each
# round. A run that exits non-zero (redis-benchmark stops at the first error reply) or prints no result
# is an error row. CPU = utime+stime of the target's process (gateway or haproxy) from /proc/PID/stat
# around each run, in µs per request (an MSET is one request). Every gateway target first gets --warmup
# requests per test and pipeline (5x deeper), not recorded (tiered JIT, see bench-shard.sh).
# Summary: medians over rounds; x_direct (ops/s over the direct run's), x_first and cpu/first are
# medians of the per-round ratios. Everything (redis, gateways, haproxy, redis-benchmark) shares this
# machine's cores: read ratios, not absolute numbers.
# CSV: round,target,test,pipeline,ops,p50,p99,cpu_us_per_cmd (ops/s, latencies in ms; empty ops = error row).
set -euo pipefail

readonly ALL_TESTS="set get incr lpush mset"

cluster="" gateway_pid="" rounds=3 requests=200000 pipelined_requests="" clients=50 keyspace=1000000
pipelines="1 16" tests="set,get,incr,lpush,mset" warmup=200000 use_haproxy=1 nbthread=2
haproxy_port="" out="" bench_threads=""
router_specs=() shard_specs=()

die() {
  echo "bench-router: $*" >&2
  exit 1
}

# shellcheck source=tools/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

usage() {
  sed -n '2,/^# Targets and/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  echo "(see the header of ${BASH_SOURCE[0]} for what each target measures)"
  exit "${1:-1}"
}

while (($# > 0)); do
  case "$1" in
    --cluster) cluster="${2:?}"; shift 2 ;;
    --router) router_specs+=("${2:?}"); shift 2 ;;
    --shard) shard_specs+=("${2:?}"); shift 2 ;;
    --gateway-pid) gateway_pid="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --pipelined-requests) pipelined_requests="${2:?}"; shift 2 ;;
    --clients) clients="${2:?}"; shift 2 ;;
    --keyspace) keyspace="${2:?}"; shift 2 ;;
    --pipelines) pipelines="${2:?}"; shift 2 ;;
    --tests) tests="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --bench-threads) bench_threads="${2:?}"; shift 2 ;;
    --no-haproxy) use_haproxy=0; shift ;;
    --nbthread) nbthread="${2:?}"; shift 2 ;;
    --haproxy-port) haproxy_port="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h | --help) usage 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[[ -n "$cluster" ]] || die "--cluster HOST:PORT is required"
((${#router_specs[@]} > 0)) || die "--router [NAME=]HOST:PORT[:PID] is required"
[[ -z "$gateway_pid" || -r "/proc/$gateway_pid/stat" ]] || die "--gateway-pid $gateway_pid: no such process"
pipelined_requests="${pipelined_requests:-$((requests * 5))}"
for n in "$rounds" "$requests" "$pipelined_requests" "$clients" "$keyspace" "$nbthread"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive number, got '$n'"
done
[[ -z "$bench_threads" || "$bench_threads" =~ ^[1-9][0-9]*$ ]] || die "--bench-threads: expected a positive number"
check_common_options
for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
if ((use_haproxy)) && ! command -v haproxy >/dev/null 2>&1; then
  echo "bench-router: haproxy not installed, skipping the haproxy target" >&2
  use_haproxy=0
fi
out="${out:-${TMPDIR:-/tmp}/bench-router-$(date +%Y%m%d-%H%M%S).csv}"
clk_tck="$(getconf CLK_TCK)"

# ---- targets: direct, router:NAME..., shard:NAME..., haproxy (added below)
targets=(direct)
declare -A addr_of=([direct]="$cluster") pid_of=([direct]=-) first_of=() router_pid=()
routers=() shards=()
for spec in "${router_specs[@]}"; do
  parse_target_spec --router "$spec" gateway
  [[ -z "${router_pid[$spec_name]:-}" ]] || die "--router: the name '$spec_name' is given twice"
  if [[ "$spec_name" == gateway && -z "$spec_pid" ]]; then
    spec_pid="$gateway_pid"
    gateway_pid=""
  fi
  router_pid[$spec_name]="${spec_pid:--}"
  routers+=("router:$spec_name")
  addr_of[router:$spec_name]="$spec_addr"
  pid_of[router:$spec_name]="${spec_pid:--}"
done
[[ -z "$gateway_pid" ]] || die "--gateway-pid goes with one --router HOST:PORT (no NAME=, no :PID)"
for spec in "${shard_specs[@]}"; do
  parse_target_spec --shard "$spec" gateway
  [[ -z "${addr_of[shard:$spec_name]:-}" ]] || die "--shard: the name '$spec_name' is given twice"
  shards+=("shard:$spec_name")
  addr_of[shard:$spec_name]="$spec_addr"
  pid_of[shard:$spec_name]="${spec_pid:-${router_pid[$spec_name]:--}}"
done
targets+=("${routers[@]}" "${shards[@]}")
if ((${#routers[@]} > 1)); then
  for t in "${routers[@]}"; do first_of[$t]="${routers[0]}"; done
fi
if ((${#shards[@]} > 1)); then
  for t in "${shards[@]}"; do first_of[$t]="${shards[0]}"; done
fi

# ---- the cluster's masters, and a hash tag inside the slots of each
nodes="$(rcli "$cluster" CLUSTER NODES 2>&1)" || die "$cluster: CLUSTER NODES failed: $nodes"
# lines: ADDR SLOTRANGE... (masters that own slots)
masters="$(awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 {
  addr = $2; sub(/@.*/, "", addr); line = addr
  for (i = 9; i <= NF; i++) if ($i !~ /^\[/) line = line " " $i
  print line }' <<<"$nodes")"
[[ -n "$masters" ]] || die "$cluster: no master owns slots (CLUSTER NODES: $nodes)"

# The master behind the shard ports is the one whose tag the first shard port accepts (others answer
# -MOVED); without --shard, the first master.
one_master="" tag=""
while read -r addr ranges; do
  # shellcheck disable=SC2086 # one slot range per word
  t="$(tag_for_slots "$cluster" $ranges)" || die "no hash tag found in the slots of $addr"
  if ((${#shards[@]} > 0)); then
    reply="$(rcli "${addr_of[${shards[0]}]}" SET "{$t}:bench-check" ok 2>&1)" || true
    if [[ "$reply" == "OK" ]]; then
      one_master="$addr" tag="$t"
      break
    fi
  elif [[ -z "$one_master" ]]; then
    one_master="$addr" tag="$t"
  fi
done <<<"$masters"
[[ -n "$one_master" ]] || die "--shard ${addr_of[${shards[0]}]} accepts a key of no master (is it a shard port of this cluster?)"
one_slots="$(awk -v a="$one_master" '$1 == a { $1 = ""; print substr($0, 2) }' <<<"$masters")"

# ---- HAProxy on a free loopback port
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/bench-router.XXXXXX")"
haproxy_pid="" haproxy_addr=""
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((use_haproxy)); then
  start_haproxy "$one_master" "$nbthread" "$haproxy_port"
  targets+=(haproxy)
  addr_of[haproxy]="$haproxy_addr"
  pid_of[haproxy]="$haproxy_pid"
fi

# Sanity: every router takes keys of every master, shard/haproxy take the tag's keys.
while read -r addr ranges; do
  # shellcheck disable=SC2086
  t="$(tag_for_slots "$cluster" $ranges)"
  for r in "${routers[@]}"; do
    reply="$(rcli "${addr_of[$r]}" SET "{$t}:bench-check" ok 2>&1)" || true
    [[ "$reply" == "OK" ]] || die "$r ${addr_of[$r]}: SET {$t}:bench-check (a key of $addr) answered: $reply"
  done
done <<<"$masters"
for t in "${shards[@]}" ${haproxy_addr:+haproxy}; do
  reply="$(rcli "${addr_of[$t]}" SET "{$tag}:bench-check" ok 2>&1)" || true
  [[ "$reply" == "OK" ]] || die "$t ${addr_of[$t]}: SET {$tag}:bench-check answered: $reply"
done

bench_args() { # TARGET TEST -> args
  local a="${addr_of[$1]}"
  case "$1" in
    direct) args=(--cluster -h "$(host_of "$a")" -p "$(port_of "$a")" -t "$2") ;;
    router:*) args=(-h "$(host_of "$a")" -p "$(port_of "$a")" ${bench_threads:+--threads "$bench_threads"} -t "$2") ;;
    *)
      args=(-h "$(host_of "$a")" -p "$(port_of "$a")" ${bench_threads:+--threads "$bench_threads"})
      tagged_command "$2" "$tag"
      ;;
  esac
}

echo "cluster $cluster, masters: $(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' <<<"$masters")"
for t in "${routers[@]}" "${shards[@]}"; do
  echo "$t: ${addr_of[$t]} pid ${pid_of[$t]/#-/? (no CPU)}"
done
[[ -z "$haproxy_addr" ]] || echo "haproxy $haproxy_addr pid $haproxy_pid (nbthread $nbthread)"
[[ ${#shards[@]} -eq 0 && -z "$haproxy_addr" ]] || echo "shard/haproxy master $one_master (slots $one_slots), hash tag {$tag}"
echo "redis-benchmark -c $clients -n $requests (-P > 1: $pipelined_requests) -r $keyspace, tests: $tests, pipelines: $pipelines, rounds: $rounds; csv: $out"

warm_up "${routers[@]}" "${shards[@]}"
run_rounds
print_summary direct
# direct runs end on redis-benchmark's 250 ms tick: print the worst-case bias of the shortest one
awk -F, -v n1="$requests" -v np="$pipelined_requests" 'NR > 1 && $2 == "direct" && $5 > 0 { d = ($4 > 1 ? np : n1) / $5; if (min == "" || d < min) min = d }
  END { if (min != "" && min < 10) printf "note: shortest direct run %.2f s; redis-benchmark --cluster stops on a 250 ms tick, so direct ops/s may be low by up to %.0f%% there (raise --requests)\n", min, 25 / min }' "$out"
echo "(ops/s; latencies ms; cpu = utime+stime of the target's process (gateway or haproxy) per request, µs)"
echo "csv: $out"
if ((errors > 0)); then
  echo "bench-router: $errors run(s) failed, see ERROR lines above" >&2
  exit 1
fi
