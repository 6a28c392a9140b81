#!/usr/bin/env bash
# One-command demo: a local 6-node Redis Cluster with ClusterGate in front of it.
#
#   demo.sh [--base-port 7000] [--shard-base-port 7100] [--router-port 7199] [--admin-port 7180] [--keep-lab]
#
# Starts the lab (cluster-lab/lab.sh up, unless it is already running), builds ClusterGate, runs
# `clustergate run` in the background, waits for its admin port, prints the shard ports, then
# follows the gateway log. Ctrl-C (or SIGTERM) stops the gateway and, unless --keep-lab is given or
# the lab was already running, the lab. Needs only the .NET SDK: lab.sh installs Redis, and the
# readiness check and the table come from `clustergate status`, so curl/jq/python are not needed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
readonly SCRIPT_DIR REPO_DIR
readonly READY_SECONDS=60

base_port=7000
shard_base_port=7100
admin_port=7180
router_port=7199
keep_lab=false

gateway_pid=""
tail_pid=""
lab_started=false
run_dir=""

die() {
  echo "demo: $*" >&2
  exit 1
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-1}"
}

while (($# > 0)); do
  case "$1" in
    --base-port) base_port="${2:?--base-port needs a value}"; shift 2 ;;
    --shard-base-port) shard_base_port="${2:?--shard-base-port needs a value}"; shift 2 ;;
    --admin-port) admin_port="${2:?--admin-port needs a value}"; shift 2 ;;
    --router-port) router_port="${2:?--router-port needs a value}"; shift 2 ;;
    --keep-lab) keep_lab=true; shift ;;
    -h | --help) usage 0 ;;
    *) die "unknown option: $1" ;;
  esac
done
for value in "$base_port" "$shard_base_port" "$admin_port" "$router_port"; do
  [[ "$value" =~ ^[0-9]+$ ]] && ((value >= 1 && value <= 65535)) || die "ports must be numbers from 1 to 65535, got '$value'"
done
# The lab's six nodes (and their bus ports, +10000), three shard ports, the router and the admin port must not overlap.
overlaps() { (($1 < $3 + $4 && $3 < $1 + $2)); }
overlaps "$base_port" 6 "$shard_base_port" 3 && die "--shard-base-port $shard_base_port overlaps the lab's nodes ($base_port-$((base_port + 5)))"
for pair in "router:$router_port" "admin:$admin_port"; do
  name="${pair%%:*}" port="${pair##*:}"
  overlaps "$base_port" 6 "$port" 1 && die "--$name-port $port is one of the lab's nodes ($base_port-$((base_port + 5)))"
  overlaps "$((base_port + 10000))" 6 "$port" 1 && die "--$name-port $port is one of the lab's cluster bus ports"
  overlaps "$shard_base_port" 3 "$port" 1 && die "--$name-port $port is one of the shard ports ($shard_base_port-$((shard_base_port + 2)))"
done
((router_port != admin_port)) || die "--router-port and --admin-port are both $router_port"
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is required"

# True while the process runs; a child that exited but is not yet reaped (a zombie) does not count.
# shellcheck disable=SC2317 # called from the EXIT trap
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

# Stops only what this script started, by pid.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_pid() {
  local pid="$1" deadline=$((SECONDS + 15))
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while running "$pid"; do
    if ((SECONDS >= deadline)); then
      echo "demo: pid $pid did not stop within 15s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$gateway_pid" ]]; then
    echo
    echo "demo: stopping the gateway (pid $gateway_pid)"
    stop_pid "$gateway_pid"
  fi
  if [[ -n "$tail_pid" ]]; then
    kill "$tail_pid" 2>/dev/null || true
    wait "$tail_pid" 2>/dev/null || true
  fi
  if [[ "$lab_started" == true && "$keep_lab" == false ]]; then
    "$SCRIPT_DIR/lab.sh" down --base-port "$base_port" || true
  elif [[ "$lab_started" == false ]]; then
    echo "demo: the lab was already running before the demo; left it up"
  else
    echo "demo: lab left running (--keep-lab); stop it with: $SCRIPT_DIR/lab.sh down --base-port $base_port"
  fi
  [[ -n "$run_dir" ]] && rm -rf "$run_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lab_dir="$SCRIPT_DIR/.lab-$base_port"
if "$SCRIPT_DIR/lab.sh" status --base-port "$base_port" >/dev/null 2>&1 && [[ -d "$lab_dir" ]]; then
  echo "demo: lab on ports $base_port-$((base_port + 5)) is already running"
else
  lab_started=true
  "$SCRIPT_DIR/lab.sh" up --base-port "$base_port"
fi

echo "demo: building ClusterGate"
build_log="$(mktemp)"
if ! dotnet build "$REPO_DIR/src/ClusterGate/ClusterGate.csproj" -c Release -nologo -v quiet >"$build_log" 2>&1; then
  cat "$build_log" >&2
  rm -f "$build_log"
  die "build failed"
fi
rm -f "$build_log"
out_dir="$REPO_DIR/src/ClusterGate/bin/Release/net10.0"
if [[ -x "$out_dir/clustergate" ]]; then
  gateway=("$out_dir/clustergate")
else
  gateway=(dotnet "$out_dir/clustergate.dll")
fi

run_dir="$(mktemp -d)"
log="$run_dir/clustergate.log"
"${gateway[@]}" run --seed "127.0.0.1:$base_port" --bind 127.0.0.1 \
  --shard-base-port "$shard_base_port" --router-port "$router_port" --admin-port "$admin_port" >"$log" 2>&1 &
gateway_pid=$!

admin="http://127.0.0.1:$admin_port/"
deadline=$((SECONDS + READY_SECONDS))
until table="$("${gateway[@]}" status --admin "$admin" --wait 2s 2>&1)"; do
  if ! running "$gateway_pid"; then
    cat "$log" >&2
    gateway_pid=""
    die "the gateway exited before its admin port answered"
  fi
  if ((SECONDS >= deadline)); then
    cat "$log" >&2
    die "the gateway did not answer on $admin within ${READY_SECONDS}s: $table"
  fi
done

first_master="$(awk 'NR == 2 { print $3 }' <<<"$table")"
cat <<EOF_SUMMARY

ClusterGate is running (pid $gateway_pid) in front of the lab on 127.0.0.1:$base_port-$((base_port + 5)).

$table

Router port (clients with no cluster support): 127.0.0.1:$router_port
Admin HTTP: ${admin}health  ${admin}topology  ${admin}shards  ${admin}events

Try:
  redis-cli -c -p $shard_base_port set foo bar        # cluster-aware client through the gateway
  redis-cli -p $shard_base_port cluster nodes         # only gateway ports in the reply
  redis-cli -p $router_port mset a 1 b 2 c 3          # one address, any slot: the router splits and routes
  $SCRIPT_DIR/lab.sh segfault ${first_master##*:}              # crash a master; its shard port follows the promotion
  ${gateway[*]} status --admin $admin

Gateway log follows (Ctrl-C stops the gateway$([[ "$lab_started" == true && "$keep_lab" == false ]] && echo " and the lab")):
EOF_SUMMARY

tail -n +1 -f "$log" &
tail_pid=$!
set +e
wait "$gateway_pid"
status=$?
set -e
gateway_pid=""
echo "demo: the gateway exited with status $status" >&2
exit "$status"
