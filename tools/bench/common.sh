# shellcheck shell=bash
# Shared by tools/bench-shard.sh and tools/bench-router.sh (sourced, not run): gateway target specs,
# HAProxy, one redis-benchmark run with the CPU of the process behind its target, the interleaved rounds
# and the summary.
#
# The caller defines die() and bench_args TARGET TEST (sets the array args: redis-benchmark's address
# and command for that target and test), and these globals before it calls run_rounds/print_summary:
#   targets      target names in the summary's order (round 1 runs them in this order)
#   pid_of       associative: target -> process whose CPU is measured, "-" for none
#   first_of     associative: gateway target -> the first gateway target of its kind (empty: one gateway)
#   tests pipelines rounds requests pipelined_requests clients keyspace warmup out clk_tck
#   work_dir     scratch directory, removed by cleanup; haproxy_pid ("" until HAProxy runs)
# shellcheck disable=SC2154

BENCH_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BENCH_TOOLS_DIR
readonly HAPROXY_TEMPLATE="$BENCH_TOOLS_DIR/haproxy/bench-master.cfg.tmpl"
readonly CSV_HEADER="round,target,test,pipeline,ops,p50,p99,cpu_us_per_cmd"

host_of() { echo "${1%:*}"; }
port_of() { echo "${1##*:}"; }

rcli() { # ADDR args...
  local addr="$1"
  shift
  redis-cli -h "$(host_of "$addr")" -p "$(port_of "$addr")" "$@"
}

# ---- gateway targets: --gateway/--router/--shard [NAME=]HOST:PORT[:PID]

# Sets spec_name, spec_addr and spec_pid ("" when the spec has none). A spec without NAME= is named
# DEFAULT_NAME: the old single-gateway form (--gateway HOST:PORT --gateway-pid PID).
# shellcheck disable=SC2034 # spec_* are the caller's
parse_target_spec() { # OPTION SPEC DEFAULT_NAME
  local option="$1" spec="$2"
  spec_name="$3"
  if [[ "$spec" == *=* ]]; then
    spec_name="${spec%%=*}"
    spec="${spec#*=}"
  fi
  [[ "$spec_name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "$option $2: the name may hold letters, digits, '_', '.', '-'"
  [[ "$spec_name" != direct && "$spec_name" != haproxy ]] || die "$option $2: '$spec_name' is a target of its own"
  if [[ "$spec" =~ ^([^:]+:[0-9]+):([0-9]+)$ ]]; then
    spec_addr="${BASH_REMATCH[1]}" spec_pid="${BASH_REMATCH[2]}"
  elif [[ "$spec" =~ ^[^:]+:[0-9]+$ ]]; then
    spec_addr="$spec" spec_pid=""
  else
    die "$option: expected [NAME=]HOST:PORT[:PID], got '$2'"
  fi
  if [[ -n "$spec_pid" && ! -r "/proc/$spec_pid/stat" ]]; then
    die "$option $2: no process $spec_pid"
  fi
}

# ---- HAProxy

# A free loopback port for HAProxy: below the ephemeral range (a client socket of any connection could
# hold a port in it) and used by no socket at all.
free_port() {
  local p low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  ((low > 20100)) || low=40000
  for p in $(shuf -i "20000-$((low - 1))" -n 200); do
    if [[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# HAProxy as a plain TCP relay to MASTER on PORT (empty: a free one), in the foreground so that its pid
# is the process to measure. Sets haproxy_addr and haproxy_pid.
start_haproxy() { # MASTER NBTHREAD PORT
  local i
  [[ -f "$HAPROXY_TEMPLATE" ]] || die "missing template $HAPROXY_TEMPLATE"
  haproxy_addr="127.0.0.1:${3:-$(free_port)}"
  sed -e "s|@BIND@|$haproxy_addr|" -e "s|@SERVER@|$1|" -e "s|@NBTHREAD@|$2|" \
    "$HAPROXY_TEMPLATE" >"$work_dir/haproxy.cfg"
  haproxy -c -q -f "$work_dir/haproxy.cfg" || die "haproxy rejected $work_dir/haproxy.cfg"
  haproxy -db -f "$work_dir/haproxy.cfg" >"$work_dir/haproxy.log" 2>&1 &
  haproxy_pid=$!
  for ((i = 0; i < 50; i++)); do
    [[ "$(rcli "$haproxy_addr" PING 2>/dev/null)" == "PONG" ]] && return 0
    kill -0 "$haproxy_pid" 2>/dev/null || die "haproxy exited: $(cat "$work_dir/haproxy.log")"
    sleep 0.1
  done
  die "haproxy on $haproxy_addr does not relay PING"
}

# Stops the HAProxy this script started (by pid) and removes its work dir.
cleanup() {
  if [[ -n "$haproxy_pid" ]] && kill -0 "$haproxy_pid" 2>/dev/null; then
    kill -TERM "$haproxy_pid" 2>/dev/null || true
    wait "$haproxy_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}

# ---- keys of one master

# A hash tag whose slot is in one of the ranges ("0-5460" or "42"), asked of the node at ADDR.
tag_for_slots() { # ADDR SLOTRANGE...
  local addr="$1" i slot range
  shift
  for ((i = 0; i < 5000; i++)); do
    slot="$(rcli "$addr" CLUSTER KEYSLOT "{bench$i}")"
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

# Appends to args the test as a command whose keys all carry the hash tag TAG (one slot, so one master):
# for targets in front of one master (the master itself, a shard port, HAProxy).
tagged_command() { # TEST TAG
  local k="key:{$2}:__rand_int__" i
  case "$1" in
    set) args+=(SET "$k" xxx) ;;
    get) args+=(GET "$k") ;;
    incr) args+=(INCR "counter:{$2}:__rand_int__") ;;
    lpush) args+=(LPUSH "mylist:{$2}" xxx) ;;
    mset)
      args+=(MSET)
      for ((i = 0; i < 10; i++)); do args+=("$k" xxx); done
      ;;
    *) die "unknown test $1" ;;
  esac
}

# ---- runs

# utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
  local line rest
  read -r line <"/proc/$1/stat" || return 1
  rest="${line##*) }"
  # shellcheck disable=SC2086
  set -- $rest
  echo $((${12} + ${13}))
}

# The checks both tools make of --warmup, --pipelines and --tests (normalises tests to a space-separated list).
check_common_options() {
  local p t
  [[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup: expected a number, got '$warmup'"
  for p in $pipelines; do
    [[ "$p" =~ ^[1-9][0-9]*$ ]] || die "--pipelines: expected positive numbers, got '$p'"
  done
  tests="${tests//,/ }"
  for t in $tests; do
    [[ " $ALL_TESTS " == *" $t "* ]] || die "--tests: unknown test '$t' (known: ${ALL_TESTS// /,})"
  done
  [[ -n "${tests// /}" ]] || die "--tests is empty"
}

requests_for() { # PIPELINE -> requests per run
  if (($1 > 1)); then echo "$pipelined_requests"; else echo "$requests"; fi
}

# One redis-benchmark run with the common options and ARGS. Sets run_ops, run_p50, run_p99 (empty when
# the run failed: redis-benchmark exits non-zero at the first error reply), run_err, and run_cpu: the
# utime+stime of PID during the run in µs per request (an MSET is one request), empty when PID is "-".
run_bench() { # PID REQUESTS PIPELINE ARGS...
  local pid="$1" n="$2" p="$3" rc=0 result before="" after line
  shift 3
  if [[ "$pid" != - ]]; then before="$(cpu_ticks "$pid")" || die "process $pid is gone"; fi
  result="$(redis-benchmark -c "$clients" -n "$n" -P "$p" -r "$keyspace" --csv "$@" 2>"$work_dir/stderr")" || rc=$?
  run_cpu=""
  if [[ "$pid" != - ]]; then
    after="$(cpu_ticks "$pid")" || die "process $pid is gone"
    run_cpu="$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.2f", d * 1000000 / hz / n }')"
  fi
  # data line: "TEST","rps","avg","min","p50","p95","p99","max" (the test name may contain commas)
  line="$({ grep '^"' <<<"$result" | grep -v '^"test"' || true; } | tail -1)"
  run_ops="" run_p50="" run_p99="" run_err=""
  read -r run_ops run_p50 run_p99 < <(awk -F'","' 'NF >= 8 { n = NF; gsub(/"/, "", $n); printf "%d %s %s\n", $(n - 6), $(n - 3), $(n - 1) }' <<<"$line") || true
  if ((rc != 0)) || [[ -z "$run_ops" ]]; then
    run_ops="" run_p50="" run_p99=""
    run_err="exit $rc: $({ grep -v '^WARNING' "$work_dir/stderr" || true; } | head -2 | tr '\n' ' ')"
    [[ "$run_err" != "exit $rc: " ]] || run_err+="no result line"
  fi
}

# Every test at every pipeline depth once through each TARGET, not recorded: .NET compiles hot code again
# with profile data during the first seconds of load (tiered JIT), which a long-running gateway has long
# finished; measured, a fresh gateway needs about 2 M pipelined requests before its CPU per command
# settles. Redis and HAProxy have no JIT and are not warmed.
warm_up() { # TARGET...
  local t p test n
  ((warmup > 0 && $# > 0)) || return 0
  echo "warm-up of $*: $warmup requests per test at -P 1, $((warmup * 5)) deeper (not recorded)"
  for t; do
    for p in $pipelines; do
      for test in $tests; do
        n=$warmup
        ((p > 1)) && n=$((warmup * 5))
        bench_args "$t" "$test"
        run_bench "${pid_of[$t]}" "$n" "$p" "${args[@]}"
        [[ -z "$run_err" ]] || echo "  warm-up $t $test P$p: ERROR ($run_err)"
      done
    done
  done
}

# Width of the target column: the longest target name.
target_width() {
  local t w=8
  for t in "${targets[@]}"; do ((${#t} > w)) && w=${#t}; done
  echo "$w"
}

# The rounds, written to $out and printed run by run. In a round every pipeline depth and test runs on
# every target back to back, so the cells compared are measured minutes apart at most; the order of the
# targets turns by one each round, so none always runs first (or right after the same one). Sets errors.
run_rounds() {
  local round i p test t w row
  local -a order
  w="$(target_width)"
  row="%-${w}s %-5s %3s %11s %7s %7s %10s\n"
  echo "$CSV_HEADER" >"$out"
  errors=0
  for ((round = 1; round <= rounds; round++)); do
    order=()
    for ((i = 0; i < ${#targets[@]}; i++)); do
      order+=("${targets[$(((i + round - 1) % ${#targets[@]}))]}")
    done
    echo
    echo "== round $round/$rounds (order: ${order[*]})"
    # shellcheck disable=SC2059 # the format is built above
    printf "$row" target test P ops/s p50_ms p99_ms cpu_us/cmd
    for p in $pipelines; do
      for test in $tests; do
        for t in "${order[@]}"; do
          bench_args "$t" "$test"
          run_bench "${pid_of[$t]}" "$(requests_for "$p")" "$p" "${args[@]}"
          if [[ -n "$run_err" ]]; then
            errors=$((errors + 1))
            printf "%-${w}s %-5s %3s  ERROR (%s)\n" "$t" "$test" "$p" "$run_err"
          else
            # shellcheck disable=SC2059
            printf "$row" "$t" "$test" "$p" "$run_ops" "$run_p50" "$run_p99" "${run_cpu:--}"
          fi
          echo "$round,$t,$test,$p,$run_ops,$run_p50,$run_p99,$run_cpu" >>"$out"
        done
      done
    done
  done
}

# Medians over the rounds, per pipeline depth, test and target. x_REF (for each REF given): the median of
# the per-round ratios of the target's ops/s to REF's in the same round, test and depth. With several
# gateways, x_first and cpu/first: the same per-round ratios of ops/s and of CPU per command to the first
# gateway of the target's kind (first_of), so a second gateway's cpu/first reads "new ÷ old".
print_summary() { # REF...
  local firsts="" t
  for t in "${!first_of[@]}"; do firsts+="$t=${first_of[$t]} "; done
  echo
  echo "== summary: median over $rounds round(s); x_* and */first are medians of per-round ratios; err = failed runs"
  awk -F, -v targets="${targets[*]}" -v refs="$*" -v firsts="$firsts" -v tests="$tests" \
    -v pipelines="$pipelines" -v w="$(target_width)" '
    function median(a, n,   i, j, x) {
      if (n == 0) return ""
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    # median over rounds of V[round, t, s, p] / V[round, ref, s, p], "-" for the target itself or no pair
    function ratio(V, t, ref, s, p,   r, k, n, a) {
      if (ref == "" || ref == t) return "-"
      n = 0
      for (r = 1; r <= maxround; r++) {
        k = r SUBSEP t SUBSEP s SUBSEP p
        if ((k in V) && ((r SUBSEP ref SUBSEP s SUBSEP p) in V) && V[r, ref, s, p] > 0) a[++n] = V[k] / V[r, ref, s, p]
      }
      return n ? sprintf("%.2f", median(a, n)) : "-"
    }
    function fmt(v, f) { return v == "" ? "-" : sprintf(f, v) }
    NR > 1 {
      k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
      if ($1 > maxround) maxround = $1
      if ($5 == "") { err[$2, $3, $4]++ } else { ops[k] = $5; p50[k] = $6; p99[k] = $7 }
      if ($8 != "") cpu[k] = $8
    }
    END {
      nt = split(targets, T, " "); nr = split(refs, R, " ")
      nf = split(firsts, F, " ")
      for (i = 1; i <= nf; i++) { split(F[i], kv, "="); first[kv[1]] = kv[2] }
      head = sprintf("%-" w "s %-5s %3s %11s %7s %7s", "target", "test", "P", "ops/s", "p50_ms", "p99_ms")
      for (i = 1; i <= nr; i++) head = head sprintf(" %9s", "x_" R[i])
      head = head sprintf(" %10s", "cpu_us/cmd")
      if (nf) head = head sprintf(" %8s %9s", "x_first", "cpu/first")
      print head " err"
      np = split(pipelines, P, " "); ns = split(tests, S, " ")
      for (a = 1; a <= np; a++) for (b = 1; b <= ns; b++) for (c = 1; c <= nt; c++) {
        p = P[a]; s = S[b]; t = T[c]
        no = n50 = n99 = nc = 0
        delete O; delete L; delete H; delete C
        for (r = 1; r <= maxround; r++) {
          k = r SUBSEP t SUBSEP s SUBSEP p
          if (k in ops) { O[++no] = ops[k]; L[++n50] = p50[k]; H[++n99] = p99[k] }
          if (k in cpu) C[++nc] = cpu[k]
        }
        line = sprintf("%-" w "s %-5s %3s %11s %7s %7s", t, s, p, fmt(median(O, no), "%.0f"),
          fmt(median(L, n50), "%.3f"), fmt(median(H, n99), "%.3f"))
        for (i = 1; i <= nr; i++) line = line sprintf(" %9s", ratio(ops, t, R[i], s, p))
        line = line sprintf(" %10s", fmt(median(C, nc), "%.2f"))
        if (nf) line = line sprintf(" %8s %9s", ratio(ops, t, first[t], s, p), ratio(cpu, t, first[t], s, p))
        printf "%s %3d\n", line, err[t, s, p]
      }
    }' "$out"
}
