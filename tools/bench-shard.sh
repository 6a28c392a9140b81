#!/usr/bin/env bash
# Side-by-side throughput of one cluster master reached three ways: directly, through HAProxy (a plain
# TCP relay started by this script), and through a ClusterGate shard port.
#
#   tools/bench-shard.sh --master HOST:PORT [--gateway HOST:PORT] [--gateway-pid PID]
#                        [--rounds 3] [--requests 200000] [--pipelined-requests N] [--clients 50] [--keyspace 100000]
#                        [--pipelines "1 16"] [--nbthread 2] [--haproxy-port PORT] [--out FILE.csv]
#                        [--warmup 200000]
#
# Each round runs, interleaved (the order of the targets turns each round), for every target
# (direct, haproxy, gateway) and every pipeline depth:
#   redis-benchmark -h H -p P -c 50 -n N -P p -r 100000 --csv SET "{TAG}:__rand_int__" xxx   (then GET)
# N is --requests at -P 1 and --pipelined-requests (default 5 x --requests) deeper, so pipelined runs last
# long enough (a run well under a second reports ops/s in coarse steps).
# redis-benchmark's own -t set,get keys (key:__rand_int__) would hash to every master and get -MOVED,
# so the keys carry a hash tag TAG chosen (with CLUSTER KEYSLOT) inside the master's slots.
# A run that gets an error reply stops (redis-benchmark exits on the first error) and is reported.
# CPU: utime+stime of the haproxy process and of --gateway-pid from /proc/PID/stat around each run,
# as microseconds per command. All processes (redis-benchmark, proxies, redis) share this machine's cores.
# Before round 1 the gateway gets --warmup requests per test and pipeline (5x for -P > 1), not recorded:
# .NET compiles hot code again with profile data during the first seconds of load (tiered JIT), which a
# long-running gateway has long finished; measured here, a fresh gateway needs about 2 M pipelined requests
# before its CPU per command settles. HAProxy has no JIT; it is not warmed.
# CSV columns: round,target,test,pipeline,ops,p50,p99,cpu_us_per_cmd (ops/s, latencies in ms).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly TEMPLATE="$SCRIPT_DIR/haproxy/bench-master.cfg.tmpl"

master="" gateway="" gateway_pid="" rounds=3 requests=200000 pipelined_requests="" clients=50 keyspace=100000
pipelines="1 16" nbthread=2 haproxy_port="" out="" warmup=200000

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
    --gateway) gateway="${2:?}"; shift 2 ;;
    --gateway-pid) gateway_pid="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --pipelined-requests) pipelined_requests="${2:?}"; shift 2 ;;
    --clients) clients="${2:?}"; shift 2 ;;
    --keyspace) keyspace="${2:?}"; shift 2 ;;
    --pipelines) pipelines="${2:?}"; shift 2 ;;
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
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup: expected a number, got '$warmup'"
if [[ -n "$gateway_pid" ]]; then
  [[ -r "/proc/$gateway_pid/stat" ]] || die "--gateway-pid $gateway_pid: no such process"
  [[ -n "$gateway" ]] || die "--gateway-pid needs --gateway"
fi
for tool in redis-cli redis-benchmark haproxy; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
[[ -f "$TEMPLATE" ]] || die "missing template $TEMPLATE"
out="${out:-${TMPDIR:-/tmp}/bench-shard-$(date +%Y%m%d-%H%M%S).csv}"
clk_tck="$(getconf CLK_TCK)"


# ---- the master and a hash tag inside its slots
master_host="$(host_of "$master")" master_port="$(port_of "$master")"
role="$(redis-cli -h "$master_host" -p "$master_port" ROLE 2>&1 | head -1)" || true
[[ "$role" == "master" ]] || die "$master is not a master (ROLE says: $role)"
slots="$(redis-cli -h "$master_host" -p "$master_port" CLUSTER NODES |
  awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) if ($i !~ /^\[/) print $i }')"
[[ -n "$slots" ]] || die "$master owns no slots"

owns_slot() {
  local slot="$1" range
  for range in $slots; do
    if [[ "$range" == *-* ]]; then
      ((slot >= ${range%-*} && slot <= ${range#*-})) && return 0
    else
      ((slot == range)) && return 0
    fi
  done
  return 1
}

tag=""
for ((i = 0; i < 2000; i++)); do
  slot="$(redis-cli -h "$master_host" -p "$master_port" CLUSTER KEYSLOT "{bench$i}")"
  if owns_slot "$slot"; then
    tag="bench$i"
    break
  fi
done
[[ -n "$tag" ]] || die "no hash tag found in the slots of $master"
key="{$tag}:__rand_int__"

# ---- HAProxy on a free loopback port, from the template, in the foreground (pid = $!)
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/bench-shard.XXXXXX")"
haproxy_pid=""
trap cleanup EXIT
trap 'exit 130' INT TERM

haproxy_port="${haproxy_port:-$(free_port)}"
haproxy_addr="127.0.0.1:$haproxy_port"
sed -e "s|@BIND@|$haproxy_addr|" -e "s|@SERVER@|$master|" -e "s|@NBTHREAD@|$nbthread|" \
  "$TEMPLATE" >"$work_dir/haproxy.cfg"
haproxy -c -q -f "$work_dir/haproxy.cfg" || die "haproxy rejected $work_dir/haproxy.cfg"
haproxy -db -f "$work_dir/haproxy.cfg" >"$work_dir/haproxy.log" 2>&1 &
haproxy_pid=$!
for ((i = 0; i < 50; i++)); do
  [[ "$(redis-cli -h 127.0.0.1 -p "$haproxy_port" PING 2>/dev/null)" == "PONG" ]] && break
  kill -0 "$haproxy_pid" 2>/dev/null || die "haproxy exited: $(cat "$work_dir/haproxy.log")"
  sleep 0.1
done
[[ "$(redis-cli -h 127.0.0.1 -p "$haproxy_port" PING 2>/dev/null)" == "PONG" ]] || die "haproxy on $haproxy_addr does not relay PING"

# target name, address, pid whose CPU is measured (empty: none)
targets=("direct $master -" "haproxy $haproxy_addr $haproxy_pid")
if [[ -n "$gateway" ]]; then
  targets+=("gateway $gateway ${gateway_pid:--}")
fi

# Every target must accept a key of the tag (a shard port of another group would answer -MOVED).
for t in "${targets[@]}"; do
  read -r name addr _ <<<"$t"
  reply="$(redis-cli -h "$(host_of "$addr")" -p "$(port_of "$addr")" SET "{$tag}:bench-check" ok 2>&1)" || true
  [[ "$reply" == "OK" ]] || die "$name $addr: SET {$tag}:bench-check answered: $reply"
done

echo "master $master (slots ${slots//$'\n'/ }), key \"$key\", haproxy $haproxy_addr pid $haproxy_pid (nbthread $nbthread)${gateway:+, gateway $gateway pid ${gateway_pid:-?}}"
echo "redis-benchmark -c $clients -n $requests (-P > 1: $pipelined_requests) -r $keyspace, pipelines: $pipelines, rounds: $rounds; csv: $out"
echo "round,target,test,pipeline,ops,p50,p99,cpu_us_per_cmd" >"$out"

if [[ -n "$gateway" ]] && ((warmup > 0)); then
  echo "warm-up: the gateway gets $warmup requests per test at -P 1 and $((warmup * 5)) at deeper pipelines (not recorded)"
  for p in $pipelines; do
    n=$warmup
    ((p > 1)) && n=$((warmup * 5))
    for cmd in "SET $key xxx" "GET $key"; do
      # shellcheck disable=SC2086 # the command's words
      redis-benchmark -h "$(host_of "$gateway")" -p "$(port_of "$gateway")" -c "$clients" -n "$n" -P "$p" -r "$keyspace" \
        --csv $cmd >/dev/null 2>"$work_dir/stderr" || die "warm-up through the gateway failed: $(head -3 "$work_dir/stderr")"
    done
  done
fi
errors=0

for ((round = 1; round <= rounds; round++)); do
  echo
  # The order of the targets turns by one each round, so none always runs first (or right after another).
  order=()
  for ((i = 0; i < ${#targets[@]}; i++)); do
    order+=("${targets[$(((i + round - 1) % ${#targets[@]}))]}")
  done
  echo "== round $round/$rounds (order: $(for t in "${order[@]}"; do printf '%s ' "${t%% *}"; done))"
  printf '%-8s %-4s %3s %12s %8s %8s %12s\n' target test P ops/s p50_ms p99_ms cpu_us/cmd
  for t in "${order[@]}"; do
    read -r name addr pid <<<"$t"
    for p in $pipelines; do
      for test in set get; do
        if [[ "$test" == set ]]; then cmd=(SET "$key" xxx); else cmd=(GET "$key"); fi
        before=""
        [[ "$pid" != "-" ]] && before="$(cpu_ticks "$pid")"
        rc=0
        n=$requests
        ((p > 1)) && n=$pipelined_requests
        result="$(redis-benchmark -h "$(host_of "$addr")" -p "$(port_of "$addr")" -c "$clients" -n "$n" \
          -P "$p" -r "$keyspace" --csv "${cmd[@]}" 2>"$work_dir/stderr")" || rc=$?
        cpu=""
        if [[ "$pid" != "-" ]]; then
          after="$(cpu_ticks "$pid")" || die "$name process $pid is gone"
          cpu="$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.2f", d * 1000000 / hz / n }')"
        fi
        err="$({ grep -v '^WARNING' "$work_dir/stderr" || true; } | head -3 | tr '\n' ' ')"
        line="$({ grep -v '^"test"' <<<"$result" || true; } | tail -1 | tr -d '"')"
        if ((rc != 0)) || [[ -n "$err" || -z "$line" ]]; then
          errors=$((errors + 1))
          printf '%-8s %-4s %3s %12s  ERROR (exit %s): %s\n' "$name" "$test" "$p" - "$rc" "${err:-no output}"
          echo "$round,$name,$test,$p,,,,$cpu" >>"$out"
          continue
        fi
        IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$line"
        ops="${rps%.*}"
        printf '%-8s %-4s %3s %12s %8s %8s %12s\n' "$name" "$test" "$p" "$ops" "$p50" "$p99" "${cpu:--}"
        echo "$round,$name,$test,$p,$ops,$p50,$p99,$cpu" >>"$out"
      done
    done
  done
done

# ---- summary: medians over rounds
median() { # column number; reads values on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
column_median() { # target test pipeline column
  awk -F, -v t="$1" -v s="$2" -v p="$3" -v c="$4" 'NR > 1 && $2 == t && $3 == s && $4 == p && $c != "" { print $c }' "$out" | median
}
ratio() {
  [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}

echo
echo "== summary: median over $rounds round(s)"
printf '%-4s %3s %12s %12s %12s %10s %10s %13s %13s\n' test P direct haproxy gateway gw/hap gw/direct hap_cpu_us gw_cpu_us
for test in set get; do
  for p in $pipelines; do
    d="$(column_median direct "$test" "$p" 5)"
    h="$(column_median haproxy "$test" "$p" 5)"
    g="$(column_median gateway "$test" "$p" 5)"
    hc="$(column_median haproxy "$test" "$p" 8)"
    gc="$(column_median gateway "$test" "$p" 8)"
    printf '%-4s %3s %12s %12s %12s %10s %10s %13s %13s\n' "$test" "$p" "${d:--}" "${h:--}" "${g:--}" \
      "$(ratio "$g" "$h" || true)" "$(ratio "$g" "$d" || true)" "${hc:--}" "${gc:--}"
  done
done
echo "(ops/s; gw/hap and gw/direct are throughput ratios; cpu = utime+stime of the process per command, µs)"
echo "csv: $out"
if ((errors > 0)); then
  echo "bench-shard: $errors run(s) failed, see ERROR lines above" >&2
  exit 1
fi
