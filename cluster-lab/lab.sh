#!/usr/bin/env bash
# Local 6-node Redis Cluster (3 masters + 3 replicas) on 127.0.0.1 for manual drills.
#
#   lab.sh up      [--base-port 7000] [--cluster-port 17000] [--node-timeout 2000] [--dir DIR]
#   lab.sh status  [--base-port 7000] [--dir DIR]
#   lab.sh segfault PORT
#   lab.sh restart PORT [--base-port 7000] [--dir DIR]
#   lab.sh down    [--base-port 7000] [--dir DIR]
#   lab.sh cli PORT [redis-cli args...]
#
# Each lab lives in its own directory (default cluster-lab/.lab-<base-port>/, gitignored), one
# sub-directory per node with redis.conf, nodes.conf, redis.pid and redis.log. Only processes whose
# pids are in that directory's pidfiles are ever stopped. Bus ports are set with `cluster-port`,
# so two labs with different --base-port/--cluster-port run side by side.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly NODE_COUNT=6
readonly WAIT_SECONDS=30

base_port=7000
cluster_port=""
node_timeout=2000
lab_dir=""

die() {
  echo "lab: $*" >&2
  exit 1
}

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-1}"
}

parse_options() {
  while (($# > 0)); do
    case "$1" in
      --base-port) base_port="${2:?--base-port needs a value}"; shift 2 ;;
      --cluster-port) cluster_port="${2:?--cluster-port needs a value}"; shift 2 ;;
      --node-timeout) node_timeout="${2:?--node-timeout needs a value}"; shift 2 ;;
      --dir) lab_dir="${2:?--dir needs a value}"; shift 2 ;;
      -h | --help) usage 0 ;;
      *) die "unknown option: $1" ;;
    esac
  done
  [[ "$base_port" =~ ^[0-9]+$ ]] || die "--base-port must be a number"
  [[ "$node_timeout" =~ ^[0-9]+$ ]] || die "--node-timeout must be a number"
  if [[ -z "$cluster_port" ]]; then
    cluster_port=$((base_port + 10000))
  fi
  [[ "$cluster_port" =~ ^[0-9]+$ ]] || die "--cluster-port must be a number"
  if [[ -z "$lab_dir" ]]; then
    lab_dir="$SCRIPT_DIR/.lab-$base_port"
  fi
}

ports() {
  local i
  for ((i = 0; i < NODE_COUNT; i++)); do
    echo $((base_port + i))
  done
}

ensure_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return
  fi
  local install="apt-get update && apt-get install -y redis-server redis-tools"
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "lab: redis-server/redis-cli missing, running: $install"
    apt-get update && apt-get install -y redis-server redis-tools
  else
    echo "lab: redis-server/redis-cli missing; install them with: $install" >&2
    exit 1
  fi
}

cli() {
  local port="$1"
  shift
  redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# Prints the pid from a node's pidfile when that process is alive and is this node's redis-server
# (its working directory is the node directory), so a recycled pid is never signalled.
node_pid() {
  local node_dir="$1" pid
  [[ -f "$node_dir/redis.pid" ]] || return 1
  pid="$(<"$node_dir/redis.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(cd "$node_dir" && pwd -P)" ]] || return 1
  echo "$pid"
}

wait_until() {
  local description="$1" deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "timed out after ${WAIT_SECONDS}s waiting for $description"
    fi
    sleep 0.1
  done
}

node_answers_ping() {
  [[ "$(cli "$1" PING 2>/dev/null)" == "PONG" ]]
}

cluster_converged() {
  local port info
  for port in $(ports); do
    info="$(cli "$port" CLUSTER INFO 2>/dev/null)" || return 1
    [[ "$info" == *"cluster_state:ok"* ]] || return 1
    [[ "$info" == *"cluster_known_nodes:$NODE_COUNT"* ]] || return 1
    [[ "$info" == *"cluster_slots_assigned:16384"* ]] || return 1
    # Every node must also know every replica as a replica (CLUSTER REPLICATE spreads by gossip).
    [[ "$(cli "$port" CLUSTER NODES 2>/dev/null | grep -cE ' (myself,)?slave ')" -eq $((NODE_COUNT / 2)) ]] || return 1
  done
}

replicas_synced() {
  local port info
  for port in $(ports); do
    info="$(cli "$port" INFO replication 2>/dev/null)" || return 1
    if [[ "$info" == *"role:slave"* && "$info" != *"master_link_status:up"* ]]; then
      return 1
    fi
  done
}

write_config() {
  local port="$1" bus_port="$2" node_dir="$3"
  cat >"$node_dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
cluster-enabled yes
cluster-port $bus_port
cluster-config-file nodes.conf
cluster-node-timeout $node_timeout
# Lab drills kill masters over and over; never let a replica refuse promotion for stale data.
cluster-replica-validity-factor 0
enable-debug-command yes
save ""
appendonly no
repl-diskless-sync-delay 0
daemonize yes
dir $node_dir
pidfile $node_dir/redis.pid
logfile $node_dir/redis.log
EOF
}

lab_running() {
  local port
  for port in $(ports); do
    if node_pid "$lab_dir/$port" >/dev/null; then
      return 0
    fi
  done
  return 1
}

cmd_up() {
  parse_options "$@"
  ensure_redis
  if [[ -d "$lab_dir" ]] && lab_running; then
    echo "lab on ports $base_port-$((base_port + NODE_COUNT - 1)) is already running ($lab_dir)"
    return 0
  fi
  rm -rf "$lab_dir"
  mkdir -p "$lab_dir"
  printf 'base_port=%s\ncluster_port=%s\nnode_timeout=%s\n' \
    "$base_port" "$cluster_port" "$node_timeout" >"$lab_dir/lab.env"

  local i port node_dir addresses=()
  for ((i = 0; i < NODE_COUNT; i++)); do
    port=$((base_port + i))
    node_dir="$lab_dir/$port"
    mkdir -p "$node_dir"
    node_dir="$(cd "$node_dir" && pwd -P)"
    write_config "$port" $((cluster_port + i)) "$node_dir"
    redis-server "$node_dir/redis.conf"
    addresses+=("127.0.0.1:$port")
  done
  for port in $(ports); do
    wait_until "node $port to answer PING" node_answers_ping "$port"
  done

  redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$lab_dir/create.log" 2>&1 ||
    die "redis-cli --cluster create failed, see $lab_dir/create.log"
  local started=$SECONDS
  wait_until "cluster_state:ok and $NODE_COUNT known nodes on every node" cluster_converged
  wait_until "every replica to finish its initial sync" replicas_synced
  echo "lab up: ports $base_port-$((base_port + NODE_COUNT - 1)), bus $cluster_port-$((cluster_port + NODE_COUNT - 1)), converged in $((SECONDS - started))s"
  print_status
}

# Groups from the first node that answers: masters with slots, their replicas, then dead nodes.
print_status() {
  local port nodes="" seen=""
  for port in $(ports); do
    if nodes="$(cli "$port" CLUSTER NODES 2>/dev/null)" && [[ -n "$nodes" ]]; then
      seen="$port"
      break
    fi
  done
  [[ -n "$seen" ]] || die "no lab node on ports $base_port-$((base_port + NODE_COUNT - 1)) answers"
  echo "view of 127.0.0.1:$seen"
  awk '
    { addr = $2; sub(/@.*/, "", addr); addrs[$1] = addr; flags[$1] = $3; master[$1] = $4;
      slots = ""; for (i = 9; i <= NF; i++) slots = slots (slots == "" ? "" : " ") $i; slot[$1] = slots;
      order[++n] = $1 }
    END {
      for (k = 1; k <= n; k++) { id = order[k]
        if (flags[id] !~ /master/ || flags[id] ~ /fail/) continue
        printf "master %s %s slots %s\n", id, addrs[id], (slot[id] == "" ? "-" : slot[id])
        for (j = 1; j <= n; j++) { r = order[j]
          if (master[r] == id && flags[r] !~ /fail/) printf "  replica %s %s\n", r, addrs[r] } }
      dead = 0
      for (k = 1; k <= n; k++) { id = order[k]
        if (flags[id] ~ /fail/) { dead++
          printf "dead %s %s flags %s slots %s\n", id, addrs[id], flags[id], (slot[id] == "" ? "-" : slot[id]) } }
      if (dead == 0) print "dead: none"
    }' <<<"$nodes"
  local not_running=()
  for port in $(ports); do
    node_pid "$lab_dir/$port" >/dev/null || not_running+=("$port")
  done
  if ((${#not_running[@]} > 0)); then
    echo "processes not running: ${not_running[*]}"
  fi
}

cmd_status() {
  parse_options "$@"
  print_status
}

cmd_segfault() {
  local port="${1:?segfault needs a PORT}"
  # The node dies while answering, so redis-cli reports a lost connection: expected.
  cli "$port" DEBUG SEGFAULT >/dev/null 2>&1 || true
  echo "segfault sent to 127.0.0.1:$port at $(date +%H:%M:%S.%3N)"
}

cmd_restart() {
  local port="${1:?restart needs a PORT}"
  shift
  parse_options "$@"
  local node_dir="$lab_dir/$port"
  [[ -f "$node_dir/redis.conf" ]] || die "no node $port in $lab_dir"
  if node_pid "$node_dir" >/dev/null; then
    echo "node $port is already running"
    return 0
  fi
  redis-server "$node_dir/redis.conf"
  wait_until "node $port to answer PING" node_answers_ping "$port"
  echo "node $port restarted"
}

stop_pid() {
  local pid="$1" deadline=$((SECONDS + 10))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

cmd_down() {
  parse_options "$@"
  if [[ ! -d "$lab_dir" ]]; then
    echo "no lab in $lab_dir"
    return 0
  fi
  # Every node at once: a master shutting down waits for its replicas (shutdown-timeout), so one by one adds up.
  local node_dir pid pids=()
  for node_dir in "$lab_dir"/*/; do
    if pid="$(node_pid "${node_dir%/}")"; then
      stop_pid "$pid" &
      pids+=("$!")
    fi
  done
  ((${#pids[@]} == 0)) || wait "${pids[@]}"
  rm -rf "$lab_dir"
  echo "lab on ports $base_port-$((base_port + NODE_COUNT - 1)) is down"
}

main() {
  (($# > 0)) || usage 1
  local command="$1"
  shift
  case "$command" in
    up) cmd_up "$@" ;;
    status) cmd_status "$@" ;;
    segfault) cmd_segfault "$@" ;;
    restart) cmd_restart "$@" ;;
    down) cmd_down "$@" ;;
    cli) cli "$@" ;;
    -h | --help | help) usage 0 ;;
    *) die "unknown command: $command" ;;
  esac
}

main "$@"
