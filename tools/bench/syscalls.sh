#!/usr/bin/env bash
# Syscalls per relayed command, and CPU per command, of processes serving Redis traffic, side by side in rounds.
#
#   tools/bench/syscalls.sh --out DIR --master-port PORT --rounds N NAME=PORT:PID [NAME=PORT:PID ...]
#
# For each round and each target (order rotating), at -P 1 and -P 16: a count run with
# `perf stat -e 'syscalls:sys_enter_*'` (plus recvfrom/recvmsg/read/sendto/sendmsg exits filtered on EAGAIN) attached
# to PID for the whole `redis-benchmark -c 50 -t set,get` run, then a run without perf for CPU (utime+stime from
# /proc/PID/stat). Every target must reach the same master (--master-port, whose total_commands_processed is read
# to check nothing extra went upstream): with the default key `key:__rand_int__`, that is the master of slot 13782.
# Counts do not depend on the machine's load; CPU does, so compare it only within a round. Summary:
#   python3 tools/bench/syscalls-summary.py DIR
# Example (gateway shard port of that master, the router, an HAProxy `mode tcp` frontend to the same master):
#   tools/bench/syscalls.sh --out /tmp/sc --master-port 7002 --rounds 3 shard=7102:$GW router=7199:$GW haproxy=7750:$HA
set -euo pipefail

out="" master="" rounds=3 names=() ports=() pids=()
while (($# > 0)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --master-port) master="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *=*:*) names+=("${1%%=*}"); rest="${1#*=}"; ports+=("${rest%%:*}"); pids+=("${rest##*:}"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$out" && -n "$master" && ${#names[@]} -gt 0 ]] || { sed -n '2,14p' "$0"; exit 2; }
command -v perf >/dev/null || { echo "perf is needed (Debian: linux-perf)" >&2; exit 1; }
mkdir -p "$out/raw"
declare -A requests=([1]=50000 [16]=200000)
eagain=(-e syscalls:sys_exit_recvfrom --filter 'ret == -11' -e syscalls:sys_exit_recvmsg --filter 'ret == -11'
  -e syscalls:sys_exit_read --filter 'ret == -11' -e syscalls:sys_exit_sendto --filter 'ret == -11' -e syscalls:sys_exit_sendmsg --filter 'ret == -11')
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
commands() { redis-cli -p "$master" info stats | tr -d '\r' | awk -F: '/^total_commands_processed/{print $2}'; }
benchmark() { redis-benchmark -p "$1" -c 50 -n "$2" -P "$3" -t set,get -q 2>&1 | tr '\r' '\n' | grep -E '^(SET|GET): [0-9.]+ requests|rror' | tr '\n' ' '; }

run() { # kind round index P
  local kind=$1 round=$2 i=$3 p=$4 name=${names[$3]} port=${ports[$3]} pid=${pids[$3]} n=${requests[$4]}
  local c0 c1 before after result
  c0=$(commands); before=$(ticks "$pid")
  if [[ $kind == count ]]; then
    result=$(perf stat -x, -e 'syscalls:sys_enter_*' "${eagain[@]}" -p "$pid" -o "$out/raw/perf.$name.P$p.r$round.csv" -- \
      bash -c "$(declare -f benchmark); benchmark $port $n $p")
  else
    result=$(benchmark "$port" "$n" "$p")
  fi
  after=$(ticks "$pid"); c1=$(commands)
  read -r u0 s0 <<<"$before"; read -r u1 s1 <<<"$after"
  printf "%s\t%s\t%s\tP%s\t%d\t%d\t%d\t%d\t%s\n" "$kind" "$round" "$name" "$p" $((2 * n)) $((c1 - c0)) $((u1 - u0)) $((s1 - s0)) "$result" | tee -a "$out/raw/runs.tsv"
}

[[ -f "$out/raw/runs.tsv" ]] || printf "kind\tround\ttarget\tP\tclient_cmds\tredis_cmds_delta\tutime_ticks\tstime_ticks\tbenchmark\n" >"$out/raw/runs.tsv"
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    i=$(((k + r - 1) % ${#names[@]}))
    for p in 1 16; do
      run count "$r" "$i" "$p"
      run cpu "$r" "$i" "$p"
    done
  done
done
