#!/usr/bin/env bash
# Side-by-side throughput of the whole cluster reached directly (redis-benchmark --cluster), through the
# ClusterGate router port, through one ClusterGate shard port and through HAProxy in front of one master.
#
#   tools/bench-router.sh --cluster HOST:PORT --router HOST:PORT --gateway-pid PID [--shard HOST:PORT]
#                         [--rounds 3] [--requests 200000] [--pipelined-requests N] [--clients 50] [--keyspace 1000000]
#                         [--pipelines "1 16"] [--tests set,get,incr,lpush,mset] [--warmup 200000]
#                         [--bench-threads N] [--no-haproxy] [--nbthread 2] [--haproxy-port PORT]
#                         [--out FILE.csv]
#
# Targets and what each one runs (redis-benchmark -c CLIENTS -n REQUESTS -P p -r KEYSPACE --csv):
#   direct   --cluster -h/-p any node, -t TEST. In cluster mode redis-benchmark puts a per-client hash
#            tag of its master in the keys (key:{tag}:__rand_int__, mylist:{tag}), so every client talks
#            to one master and MSET's 10 keys share a slot: mset works here, no cross-slot errors.
#            Caveats of redis-benchmark 7.0 --cluster: it always runs one client thread per master
#            (3 event loops vs 1 for the other targets, unless --bench-threads), and a threaded run
#            only notices its end on a 250 ms timer tick, so its ops/s is low by up to
#            250 ms / run time (the summary prints the bound; raise --requests to shrink it). Runs with
#            -P > 1 use --pipelined-requests (default 5 x --requests) so they last long enough too.
#   router   -t TEST on the router port, plain keys (key:__rand_int__), spread over all masters by the
#            gateway. Differences to direct: MSET's 10 keys hit different slots, so the gateway splits
#            and merges it (more work per request than direct); LPUSH uses the single key "mylist", so
#            every LPUSH goes to one master (direct spreads it over one list per master).
#   shard    --shard (optional): a shard port fronts one master group and answers -MOVED for other
#            slots, so the tests run as custom commands whose keys carry a hash tag TAG inside that
#            master's slots: SET key:{TAG}:__rand_int__ xxx, GET key:{TAG}:__rand_int__,
#            INCR counter:{TAG}:__rand_int__, LPUSH mylist:{TAG} xxx, MSET 10x key:{TAG}:__rand_int__ xxx.
#   haproxy  (when haproxy is installed, unless --no-haproxy) a plain TCP relay (tools/haproxy/
#            bench-master.cfg.tmpl) to the same master as --shard (else the first master), same
#            custom commands as shard. It measures the cost of one relay hop in front of ONE master:
#            the floor for any proxy. Compare it with shard, not with direct/router (those use 3 masters).
# Each round, for every pipeline depth, the targets run in an order rotated by one per round, each
# test as its own redis-benchmark run. A run that exits non-zero (redis-benchmark stops at the first
# error reply) or prints no result is an error row. Gateway CPU = utime+stime of --gateway-pid from
# /proc/PID/stat around each run, in µs per request (an MSET is one request); the same for haproxy.
# ratio_to_direct = ops/s over the direct run of the same round/test/pipeline; the summary shows
# medians over rounds (the ratio is the median of per-round ratios). Everything (redis, gateway,
# haproxy, redis-benchmark) shares this machine's cores: read ratios, not absolute numbers.
# CSV: round,target,test,pipeline,ops,p50,p99,ratio_to_direct,gateway_cpu_us_per_cmd,haproxy_cpu_us_per_cmd
# (ops/s, latencies in ms; empty ops = error row).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly TEMPLATE="$SCRIPT_DIR/haproxy/bench-master.cfg.tmpl"
readonly ALL_TESTS="set get incr lpush mset"
readonly TARGET_ORDER="direct router shard haproxy"

cluster="" router="" shard="" gateway_pid="" rounds=3 requests=200000 pipelined_requests="" clients=50 keyspace=1000000
pipelines="1 16" tests="set,get,incr,lpush,mset" warmup=200000 use_haproxy=1 nbthread=2
haproxy_port="" out="" bench_threads=""

die() {
  echo "bench-router: $*" >&2
  exit 1
}

# shellcheck source=tools/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "(see the header of ${BASH_SOURCE[0]} for what each target measures)"
  exit "${1:-1}"
}

while (($# > 0)); do
  case "$1" in
    --cluster) cluster="${2:?}"; shift 2 ;;
    --router) router="${2:?}"; shift 2 ;;
    --shard) shard="${2:?}"; shift 2 ;;
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
[[ -n "$router" ]] || die "--router HOST:PORT is required"
[[ -n "$gateway_pid" ]] || die "--gateway-pid PID is required"
[[ -r "/proc/$gateway_pid/stat" ]] || die "--gateway-pid $gateway_pid: no such process"
pipelined_requests="${pipelined_requests:-$((requests * 5))}"
for n in "$rounds" "$requests" "$pipelined_requests" "$clients" "$keyspace" "$nbthread"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive number, got '$n'"
done
[[ -z "$bench_threads" || "$bench_threads" =~ ^[1-9][0-9]*$ ]] || die "--bench-threads: expected a positive number"
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup: expected a number, got '$warmup'"
for p in $pipelines; do
  [[ "$p" =~ ^[1-9][0-9]*$ ]] || die "--pipelines: expected positive numbers, got '$p'"
done
tests="${tests//,/ }"
for t in $tests; do
  [[ " $ALL_TESTS " == *" $t "* ]] || die "--tests: unknown test '$t' (known: ${ALL_TESTS// /,})"
done
[[ -n "${tests// /}" ]] || die "--tests is empty"
for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
if ((use_haproxy)) && ! command -v haproxy >/dev/null 2>&1; then
  echo "bench-router: haproxy not installed, skipping the haproxy target" >&2
  use_haproxy=0
fi
((use_haproxy == 0)) || [[ -f "$TEMPLATE" ]] || die "missing template $TEMPLATE"
out="${out:-${TMPDIR:-/tmp}/bench-router-$(date +%Y%m%d-%H%M%S).csv}"
clk_tck="$(getconf CLK_TCK)"

rcli() { # ADDR args...
  local addr="$1"
  shift
  redis-cli -h "$(host_of "$addr")" -p "$(port_of "$addr")" "$@"
}

# ---- the cluster's masters, and a hash tag inside the slots of each
nodes="$(rcli "$cluster" CLUSTER NODES 2>&1)" || die "$cluster: CLUSTER NODES failed: $nodes"
# lines: ADDR SLOTRANGE... (masters that own slots)
masters="$(awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 {
  addr = $2; sub(/@.*/, "", addr); line = addr
  for (i = 9; i <= NF; i++) if ($i !~ /^\[/) line = line " " $i
  print line }' <<<"$nodes")"
[[ -n "$masters" ]] || die "$cluster: no master owns slots (CLUSTER NODES: $nodes)"

tag_for_slots() { # SLOTRANGE... -> a tag whose slot is in one of the ranges
  local i slot range
  for ((i = 0; i < 5000; i++)); do
    slot="$(rcli "$cluster" CLUSTER KEYSLOT "{bench$i}")"
    for range in "$@"; do
      if [[ "$range" == *-* ]]; then
        ((slot >= ${range%-*} && slot <= ${range#*-})) && { echo "bench$i"; return 0; }
      else
        ((slot == range)) && { echo "bench$i"; return 0; }
      fi
    done
  done
  return 1
}

# The master behind --shard is the one whose tag the shard port accepts (others answer -MOVED).
one_master="" tag=""
while read -r addr ranges; do
  # shellcheck disable=SC2086
  t="$(tag_for_slots $ranges)" || die "no hash tag found in the slots of $addr"
  if [[ -n "$shard" ]]; then
    reply="$(rcli "$shard" SET "{$t}:bench-check" ok 2>&1)" || true
    if [[ "$reply" == "OK" ]]; then
      one_master="$addr" tag="$t"
      break
    fi
  elif [[ -z "$one_master" ]]; then
    one_master="$addr" tag="$t"
  fi
done <<<"$masters"
[[ -n "$one_master" ]] || die "--shard $shard accepts a key of no master (is it a shard port of this cluster?)"
one_slots="$(awk -v a="$one_master" '$1 == a { $1 = ""; print substr($0, 2) }' <<<"$masters")"

# ---- HAProxy on a free loopback port, from the template, in the foreground (pid = $!)
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/bench-router.XXXXXX")"
haproxy_pid=""
trap cleanup EXIT
trap 'exit 130' INT TERM

haproxy_addr=""
if ((use_haproxy)); then
  haproxy_port="${haproxy_port:-$(free_port)}"
  haproxy_addr="127.0.0.1:$haproxy_port"
  sed -e "s|@BIND@|$haproxy_addr|" -e "s|@SERVER@|$one_master|" -e "s|@NBTHREAD@|$nbthread|" \
    "$TEMPLATE" >"$work_dir/haproxy.cfg"
  haproxy -c -q -f "$work_dir/haproxy.cfg" || die "haproxy rejected $work_dir/haproxy.cfg"
  haproxy -db -f "$work_dir/haproxy.cfg" >"$work_dir/haproxy.log" 2>&1 &
  haproxy_pid=$!
  for ((i = 0; i < 50; i++)); do
    [[ "$(rcli "$haproxy_addr" PING 2>/dev/null)" == "PONG" ]] && break
    kill -0 "$haproxy_pid" 2>/dev/null || die "haproxy exited: $(cat "$work_dir/haproxy.log")"
    sleep 0.1
  done
  [[ "$(rcli "$haproxy_addr" PING 2>/dev/null)" == "PONG" ]] || die "haproxy on $haproxy_addr does not relay PING"
fi

# ---- targets: name -> address
declare -A addr_of=([direct]="$cluster" [router]="$router")
[[ -n "$shard" ]] && addr_of[shard]="$shard"
((use_haproxy)) && addr_of[haproxy]="$haproxy_addr"
targets=()
for t in $TARGET_ORDER; do
  [[ -n "${addr_of[$t]:-}" ]] && targets+=("$t")
done

# Sanity: router takes keys of every master, shard/haproxy take the tag's keys.
while read -r addr ranges; do
  # shellcheck disable=SC2086
  t="$(tag_for_slots $ranges)"
  reply="$(rcli "$router" SET "{$t}:bench-check" ok 2>&1)" || true
  [[ "$reply" == "OK" ]] || die "router $router: SET {$t}:bench-check (a key of $addr) answered: $reply"
done <<<"$masters"
for t in shard haproxy; do
  [[ -n "${addr_of[$t]:-}" ]] || continue
  reply="$(rcli "${addr_of[$t]}" SET "{$tag}:bench-check" ok 2>&1)" || true
  [[ "$reply" == "OK" ]] || die "$t ${addr_of[$t]}: SET {$tag}:bench-check answered: $reply"
done

# redis-benchmark arguments for TARGET TEST (after the common ones)
bench_args() {
  local target="$1" test="$2" k="key:{$tag}:__rand_int__" i
  case "$target" in
    direct) args=(--cluster -h "$(host_of "$cluster")" -p "$(port_of "$cluster")" -t "$test") ;;
    router) args=(-h "$(host_of "$router")" -p "$(port_of "$router")" ${bench_threads:+--threads "$bench_threads"} -t "$test") ;;
    *)
      local a="${addr_of[$target]}"
      args=(-h "$(host_of "$a")" -p "$(port_of "$a")" ${bench_threads:+--threads "$bench_threads"})
      case "$test" in
        set) args+=(SET "$k" xxx) ;;
        get) args+=(GET "$k") ;;
        incr) args+=(INCR "counter:{$tag}:__rand_int__") ;;
        lpush) args+=(LPUSH "mylist:{$tag}" xxx) ;;
        mset)
          args+=(MSET)
          for ((i = 0; i < 10; i++)); do args+=("$k" xxx); done
          ;;
      esac
      ;;
  esac
}

requests_for() { # pipeline -> requests per run
  if (($1 > 1)); then echo "$pipelined_requests"; else echo "$requests"; fi
}

us_per_cmd() { # ticks requests
  awk -v d="$1" -v hz="$clk_tck" -v n="$2" 'BEGIN { printf "%.2f", d * 1000000 / hz / n }'
}

# run TARGET TEST PIPELINE REQUESTS -> sets run_line (rps p50 p99, or empty), run_err, gw_cpu, hap_cpu
run_bench() {
  local target="$1" test="$2" p="$3" n="$4" rc=0 result gw0 gw1 hp0="" hp1 line
  bench_args "$target" "$test"
  gw0="$(cpu_ticks "$gateway_pid")" || die "gateway process $gateway_pid is gone"
  [[ -n "$haproxy_pid" ]] && hp0="$(cpu_ticks "$haproxy_pid")"
  result="$(redis-benchmark -c "$clients" -n "$n" -P "$p" -r "$keyspace" --csv "${args[@]}" 2>"$work_dir/stderr")" || rc=$?
  gw1="$(cpu_ticks "$gateway_pid")" || die "gateway process $gateway_pid is gone"
  gw_cpu="$(us_per_cmd $((gw1 - gw0)) "$n")"
  hap_cpu=""
  if [[ -n "$hp0" ]]; then
    hp1="$(cpu_ticks "$haproxy_pid")" || die "haproxy process $haproxy_pid is gone"
    hap_cpu="$(us_per_cmd $((hp1 - hp0)) "$n")"
  fi
  # data line: "TEST","rps","avg","min","p50","p95","p99","max" (the test name may contain commas)
  line="$({ grep '^"' <<<"$result" | grep -v '^"test"' || true; } | tail -1)"
  run_line="$(awk -F'","' 'NF >= 8 { n = NF; gsub(/"/, "", $n); print $(n - 6), $(n - 3), $(n - 1) }' <<<"$line")"
  run_err=""
  if ((rc != 0)) || [[ -z "$run_line" ]]; then
    run_line=""
    run_err="exit $rc: $({ grep -v '^WARNING' "$work_dir/stderr" || true; } | head -2 | tr '\n' ' ')"
    [[ "$run_err" == "exit $rc: " ]] && run_err+="no result line"
  fi
}

echo "cluster $cluster, masters: $(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' <<<"$masters")"
echo "router $router, gateway pid $gateway_pid${shard:+, shard $shard}${haproxy_addr:+, haproxy $haproxy_addr pid $haproxy_pid (nbthread $nbthread)}"
[[ -n "$shard" || -n "$haproxy_addr" ]] && echo "shard/haproxy master $one_master (slots $one_slots), hash tag {$tag}"
echo "redis-benchmark -c $clients -n $requests (-P > 1: $pipelined_requests) -r $keyspace, tests: $tests, pipelines: $pipelines, rounds: $rounds; csv: $out"

if ((warmup > 0)); then
  # The gateway's targets only: .NET recompiles hot code with profile data during the first seconds of
  # load (tiered JIT), which a long-running gateway has long finished (a fresh one needs about 2 M
  # pipelined requests before its CPU per command settles). The direct cluster and HAProxy have no JIT.
  echo "warm-up: the gateway's targets get $warmup requests per test at -P 1, $((warmup * 5)) deeper (not recorded)"
  for t in "${targets[@]}"; do
    [[ "$t" == router || "$t" == shard ]] || continue
    for p in $pipelines; do
      for test in $tests; do
        n=$warmup
        ((p > 1)) && n=$((warmup * 5))
        run_bench "$t" "$test" "$p" "$n"
        [[ -z "$run_err" ]] || echo "  warm-up $t $test P$p: ERROR ($run_err)"
      done
    done
  done
fi

echo "round,target,test,pipeline,ops,p50,p99,ratio_to_direct,gateway_cpu_us_per_cmd,haproxy_cpu_us_per_cmd" >"$out"
errors=0
ntargets=${#targets[@]}
hdr_fmt='%-8s %-5s %3s %11s %7s %7s %7s %10s %10s\n'

for ((round = 1; round <= rounds; round++)); do
  raw="$work_dir/round.csv"
  : >"$raw"
  order=()
  for ((i = 0; i < ntargets; i++)); do
    order+=("${targets[$(((i + round - 1) % ntargets))]}")
  done
  echo
  echo "== round $round/$rounds (order: ${order[*]})"
  for p in $pipelines; do
    for t in "${order[@]}"; do
      for test in $tests; do
        run_bench "$t" "$test" "$p" "$(requests_for "$p")"
        cpu="" hcpu=""
        [[ "$t" == router || "$t" == shard ]] && cpu="$gw_cpu"
        [[ "$t" == haproxy ]] && hcpu="$hap_cpu"
        if [[ -n "$run_err" ]]; then
          errors=$((errors + 1))
          echo "  ERROR $t $test P$p: $run_err"
          echo "$round,$t,$test,$p,,,,$cpu,$hcpu" >>"$raw"
        else
          read -r rps p50 p99 <<<"$run_line"
          echo "$round,$t,$test,$p,${rps%.*},$p50,$p99,$cpu,$hcpu" >>"$raw"
        fi
      done
    done
  done
  # ratio to the direct run of the same round/test/pipeline; rows in fixed target/test order
  # shellcheck disable=SC2059
  printf "$hdr_fmt" target test P ops/s p50_ms p99_ms x_direct gw_us/cmd hap_us/cmd
  for p in $pipelines; do
    for test in $tests; do
      for t in "${targets[@]}"; do
        awk -F, -v t="$t" -v s="$test" -v p="$p" -v out="$out" -v fmt="$hdr_fmt" '
          $3 == s && $4 == p && $2 == "direct" { d = $5 }
          $3 == s && $4 == p && $2 == t { row = $0; split($0, f, ",") }
          END {
            if (row == "") exit
            r = (f[5] != "" && d > 0) ? sprintf("%.2f", f[5] / d) : ""
            print f[1] "," f[2] "," f[3] "," f[4] "," f[5] "," f[6] "," f[7] "," r "," f[8] "," f[9] >> out
            printf fmt, f[2], f[3], f[4], (f[5] == "" ? "ERROR" : f[5]), f[6], f[7], r, f[8], f[9]
          }' "$raw"
      done
    done
  done
done

# ---- summary: medians over rounds
echo
echo "== summary: median over $rounds round(s) (x_direct = median of per-round ratios; err = failed runs)"
printf '%-8s %-5s %3s %11s %7s %7s %7s %10s %10s %4s\n' target test P ops/s p50_ms p99_ms x_direct gw_us/cmd hap_us/cmd err
for p in $pipelines; do
  for test in $tests; do
    for t in "${targets[@]}"; do
      awk -F, -v t="$t" -v s="$test" -v p="$p" '
        function median(a, n,   i, j, x) {
          if (n == 0) return ""
          for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
          return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        NR > 1 && $2 == t && $3 == s && $4 == p {
          if ($5 == "") { err++ } else { ops[++no] = $5; p50[++n50] = $6; p99[++n99] = $7 }
          if ($8 != "") ratio[++nr] = $8
          if ($9 != "") gw[++ng] = $9
          if ($10 != "") hp[++nh] = $10
        }
        END {
          o = median(ops, no); r = median(ratio, nr); g = median(gw, ng); h = median(hp, nh)
          a = median(p50, n50); b = median(p99, n99)
          printf "%-8s %-5s %3s %11s %7s %7s %7s %10s %10s %4d\n", t, s, p,
            (o == "" ? "n/a" : sprintf("%.0f", o)), (a == "" ? "-" : sprintf("%.3f", a)),
            (b == "" ? "-" : sprintf("%.3f", b)), (r == "" ? "-" : sprintf("%.2f", r)),
            (g == "" ? "-" : sprintf("%.2f", g)), (h == "" ? "-" : sprintf("%.2f", h)), err
        }' "$out"
    done
  done
done
# direct runs end on redis-benchmark's 250 ms tick: print the worst-case bias of the shortest one
awk -F, -v n1="$requests" -v np="$pipelined_requests" 'NR > 1 && $2 == "direct" && $5 > 0 { d = ($4 > 1 ? np : n1) / $5; if (min == "" || d < min) min = d }
  END { if (min != "" && min < 10) printf "note: shortest direct run %.2f s; redis-benchmark --cluster stops on a 250 ms tick, so direct ops/s may be low by up to %.0f%% there (raise --requests)\n", min, 25 / min }' "$out"
echo "(ops/s; latencies ms; gw_us/cmd = gateway utime+stime per request on router/shard runs, hap_us/cmd = the same for haproxy)"
echo "csv: $out"
if ((errors > 0)); then
  echo "bench-router: $errors run(s) failed, see ERROR lines above" >&2
  exit 1
fi
