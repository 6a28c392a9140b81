#!/usr/bin/env bash
# Builds two or more commits of ClusterGate, runs each as a gateway in front of the same lab cluster and
# measures them side by side in the same interleaved rounds: bench-shard.sh (the same group's shard port
# of every build, HAProxy, the master directly), then bench-router.sh (every build's router port, the
# cluster directly, HAProxy in front of one master). Each build is a named target; the summaries' cpu/first
# column is each build's CPU per command over the first build's ("new ÷ old").
#
#   tools/bench/run-builds.sh [--lab-port 7000] [--group 0] [--port-base 7300] [--only shard|router]
#                             [--build-dir DIR] [--results DIR]
#                             NAME=REF[:ARGS] NAME=REF[:ARGS]... [BENCH-OPTIONS...] [-- BENCH-OPTIONS...]
#
#   NAME=REF[:ARGS]  a gateway named NAME (letters, digits, _ . -), built from the git commit REF of this
#                    repository (a commit, branch or tag: committed work only). ARGS, everything after
#                    the first ':', are extra words for `clustergate run`, split on spaces, e.g.
#                    'fast=HEAD:--io-threads 2' (or a transport option once there is one). Two NAMEs may
#                    share a REF (built once) and differ by ARGS: 'one=HEAD' 'two=HEAD:--io-threads 2'.
#   --lab-port       a node of a running lab cluster (./cluster-lab/lab.sh up [--base-port 7800]); the seed
#   --group          the master group whose shard ports bench-shard.sh measures: groups are numbered
#                    by lowest slot, as the gateway numbers its shard ports (default 0)
#   --port-base      build i listens on shard ports BASE+20i, BASE+20i+1, ... and router port BASE+20i+19
#                    (default 7300); all must be free
#   --only           run only bench-shard.sh or only bench-router.sh
#   --build-dir      keep the builds in DIR/<commit> and reuse them on the next run (default: a temporary
#                    directory, removed at the end)
#   --results        where the CSVs, the printed tables and the gateways' logs go
#                    (default ${TMPDIR:-/tmp}/bench-builds-DATE)
#   BENCH-OPTIONS    options this script does not know, each with its value, and everything after --,
#                    go to both bench scripts (so only options both know, unless --only): --rounds,
#                    --requests, --pipelined-requests, --clients, --keyspace, --pipelines, --tests,
#                    --warmup, --nbthread. The same test names exist in both (bench-shard.sh runs set,get
#                    by default, bench-router.sh all five).
#
# Each build: `git archive REF` into a temporary directory, `dotnet build src/ClusterGate -c Release -o
# DIR`, then `DIR/clustergate run --seed 127.0.0.1:LAB --bind 127.0.0.1 --shard-base-port B
# --router-port R --log-level Warning ARGS`, ready when its router port and the group's shard port answer
# PING. Every gateway started here is stopped by its pid at the end, also on failure or Ctrl+C.
# Example, the architecture refactor against the commit before it, 3 rounds (832b6ce: the product code of
# d4a4222, which lost three source files to the refactor and does not build):
#   ./cluster-lab/lab.sh up --base-port 7800
#   tools/bench/run-builds.sh --lab-port 7800 old=832b6ce new=main --rounds 3
# and one cell again, e.g. the router's MSET at -P 16 (builds kept between the two runs):
#   tools/bench/run-builds.sh --lab-port 7800 --build-dir artifacts/bench-builds --only router \
#     old=832b6ce new=main --rounds 3 --tests mset --pipelines 16
set -euo pipefail

readonly PORT_STRIDE=20
readonly READY_SECONDS=60
readonly STOP_SECONDS=15

lab_port=7000 group=0 port_base=7300 only="" build_dir="" results=""
specs=() bench_options=()

die() {
  echo "run-builds: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
  exit "${1:-1}"
}

while (($# > 0)); do
  case "$1" in
    --lab-port) lab_port="${2:?}"; shift 2 ;;
    --group) group="${2:?}"; shift 2 ;;
    --port-base) port_base="${2:?}"; shift 2 ;;
    --only) only="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --results) results="${2:?}"; shift 2 ;;
    -h | --help) usage 0 ;;
    --) shift; bench_options+=("$@"); break ;;
    --no-haproxy) bench_options+=("$1"); shift ;;
    --*) bench_options+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) specs+=("$1"); shift ;;
  esac
done

for n in "$lab_port" "$group" "$port_base"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "expected a number, got '$n'"
done
[[ -z "$only" || "$only" == shard || "$only" == router ]] || die "--only: shard or router, got '$only'"
((${#specs[@]} >= 2)) || die "give two or more NAME=REF[:ARGS] (see --help)"
for tool in git dotnet redis-cli redis-benchmark ss; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(git -C "$tools_dir" rev-parse --show-toplevel)"
readonly tools_dir repo

# ---- the builds: name, commit, run arguments, ports
names=()
declare -A sha_of=() ref_of=() args_of=() shard_base_of=() router_port_of=() pid_of=()
for spec in "${specs[@]}"; do
  [[ "$spec" =~ ^([A-Za-z0-9_.-]+)=([^:]+)(:(.*))?$ ]] || die "expected NAME=REF[:ARGS], got '$spec'"
  name="${BASH_REMATCH[1]}" ref="${BASH_REMATCH[2]}"
  [[ -z "${ref_of[$name]:-}" ]] || die "the name '$name' is given twice"
  [[ "$name" != direct && "$name" != haproxy ]] || die "'$name' is a target of the bench scripts; pick another name"
  sha="$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}")" || die "$spec: '$ref' is not a commit of $repo"
  i=${#names[@]}
  names+=("$name")
  ref_of[$name]="$ref"
  sha_of[$name]="$sha"
  args_of[$name]="${BASH_REMATCH[4]}"
  shard_base_of[$name]=$((port_base + PORT_STRIDE * i))
  router_port_of[$name]=$((port_base + PORT_STRIDE * i + PORT_STRIDE - 1))
done

# ---- the lab and the master of the group
lab="127.0.0.1:$lab_port"
info="$(redis-cli -h 127.0.0.1 -p "$lab_port" CLUSTER INFO 2>&1)" || die "$lab: $info"
[[ "$info" == *"cluster_state:ok"* ]] || die "$lab: the cluster is not ok (./cluster-lab/lab.sh up --base-port $lab_port?)"
# masters ordered by their lowest slot, as the gateway numbers its groups
masters="$(redis-cli -h 127.0.0.1 -p "$lab_port" CLUSTER NODES | awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 {
  addr = $2; sub(/@.*/, "", addr); low = 16384
  for (i = 9; i <= NF; i++) if ($i !~ /^\[/) { split($i, r, "-"); if (r[1] + 0 < low) low = r[1] + 0 }
  print low, addr }' | sort -n | awk '{ print $2 }')"
group_count="$(wc -l <<<"$masters")"
((group < group_count)) || die "--group $group: the cluster has $group_count master groups"
master="$(sed -n "$((group + 1))p" <<<"$masters")"

port_free() { [[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]; }
((group_count < PORT_STRIDE - 1)) || die "$group_count groups do not fit in $PORT_STRIDE ports per build"
for name in "${names[@]}"; do
  for ((p = shard_base_of[$name]; p < shard_base_of[$name] + group_count; p++)); do
    port_free "$p" || die "port $p (shard ports of $name) is in use; choose another --port-base"
  done
  port_free "${router_port_of[$name]}" || die "port ${router_port_of[$name]} (router port of $name) is in use; choose another --port-base"
done

# ---- cleanup: every gateway started here, by pid; temporary directories
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/run-builds.XXXXXX")"
results="${results:-${TMPDIR:-/tmp}/bench-builds-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$results"
if [[ -n "$build_dir" ]]; then
  mkdir -p "$build_dir"
  build_dir="$(cd "$build_dir" && pwd)"
fi
builds="${build_dir:-$work_dir/builds}"

process_state() { # PID -> the state letter of /proc/PID/stat, empty when gone
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 0
  line="${line##*) }"
  echo "${line%% *}"
}

# SIGTERM, then SIGKILL after SECONDS (0: wait as long as it takes); reaps it.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_process() { # PID WHAT SECONDS
  local pid="$1" deadline=$((SECONDS + $3)) state
  kill -TERM "$pid" 2>/dev/null || true
  while state="$(process_state "$pid")"; [[ -n "$state" && "$state" != Z ]]; do
    if (($3 > 0 && SECONDS >= deadline)); then
      echo "run-builds: $2 (pid $pid) still runs $3 s after SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
}

bench_pid="" tail_pid=""
# A bench script still running (interrupted) ends its current redis-benchmark run and stops its HAProxy
# on SIGTERM; then the gateways stop.
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  local name
  [[ -z "$bench_pid" ]] || stop_process "$bench_pid" "the bench script" 0
  [[ -z "$tail_pid" ]] || stop_process "$tail_pid" "tail" 5
  for name in "${names[@]}"; do
    [[ -z "${pid_of[$name]:-}" ]] || stop_process "${pid_of[$name]}" "gateway $name" "$STOP_SECONDS"
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build each commit once
for name in "${names[@]}"; do
  sha="${sha_of[$name]}" out="$builds/${sha_of[$name]}"
  if [[ -f "$out/.built" ]]; then
    echo "build $name: ${ref_of[$name]} = ${sha:0:10}, reused from $out"
    continue
  fi
  echo "build $name: ${ref_of[$name]} = ${sha:0:10} ($(git -C "$repo" log -1 --format=%s "$sha" | cut -c1-70))"
  src="$work_dir/src-$sha"
  rm -rf "$src" "$out"
  mkdir -p "$src"
  git -C "$repo" archive --format=tar "$sha" | tar -x -C "$src"
  if ! dotnet build "$src/src/ClusterGate" -c Release -o "$out" --nologo >"$results/build-$name.log" 2>&1; then
    tail -20 "$results/build-$name.log" >&2
    die "build of $name (${ref_of[$name]}) failed; log: $results/build-$name.log"
  fi
  [[ -x "$out/clustergate" ]] || die "build of $name: no $out/clustergate"
  touch "$out/.built"
  rm -rf "$src"
done

# ---- start the gateways
answers_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" == "PONG" ]]; }

for name in "${names[@]}"; do
  shard_port=$((shard_base_of[$name] + group))
  read -ra extra <<<"${args_of[$name]}"
  cmd=("$builds/${sha_of[$name]}/clustergate" run --seed "$lab" --bind 127.0.0.1
    --shard-base-port "${shard_base_of[$name]}" --router-port "${router_port_of[$name]}" --log-level Warning "${extra[@]}")
  "${cmd[@]}" >"$results/gateway-$name.log" 2>&1 &
  pid_of[$name]=$!
  echo "gateway $name: pid ${pid_of[$name]}, shard port $shard_port (group $group, master $master), router port ${router_port_of[$name]}"
  echo "  ${cmd[*]}"
  deadline=$((SECONDS + READY_SECONDS))
  until answers_ping "${router_port_of[$name]}" && answers_ping "$shard_port"; do
    state="$(process_state "${pid_of[$name]}")"
    if [[ -z "$state" || "$state" == Z ]]; then
      tail -20 "$results/gateway-$name.log" >&2
      die "gateway $name exited; log: $results/gateway-$name.log"
    fi
    ((SECONDS < deadline)) || die "gateway $name does not answer PING on ports ${router_port_of[$name]} and $shard_port after ${READY_SECONDS}s"
    sleep 0.2
  done
done

# ---- the benchmarks, every build a named target
shard_targets=() router_targets=()
for name in "${names[@]}"; do
  shard_targets+=(--gateway "$name=127.0.0.1:$((shard_base_of[$name] + group)):${pid_of[$name]}")
  router_targets+=(--router "$name=127.0.0.1:${router_port_of[$name]}:${pid_of[$name]}")
done

rc=0
# The script runs in the background (so that a signal reaches this script's trap at once) and its output
# goes to KIND.txt, printed as it grows.
run_bench_script() { # KIND SCRIPT ARGS...
  local kind="$1" script="$2"
  shift 2
  echo
  echo "== $kind: $script $* ${bench_options[*]}"
  echo "load before: $(cat /proc/loadavg)"
  : >"$results/$kind.txt"
  "$tools_dir/$script" "$@" --out "$results/$kind.csv" "${bench_options[@]}" >>"$results/$kind.txt" 2>&1 &
  bench_pid=$!
  tail -n +1 -f --pid="$bench_pid" "$results/$kind.txt" &
  tail_pid=$!
  wait "$bench_pid" || rc=1
  bench_pid=""
  wait "$tail_pid" || true
  tail_pid=""
  echo "load after: $(cat /proc/loadavg)"
}
if [[ "$only" != router ]]; then
  run_bench_script shard bench-shard.sh --master "$master" "${shard_targets[@]}"
fi
if [[ "$only" != shard ]]; then
  run_bench_script router bench-router.sh --cluster "$lab" "${router_targets[@]}"
fi

echo
for name in "${names[@]}"; do
  echo "$name = ${ref_of[$name]} ${sha_of[$name]:0:10}${args_of[$name]:+ run with: ${args_of[$name]}}"
done
echo "results: $results (csv, printed tables, build and gateway logs)"
exit "$rc"
