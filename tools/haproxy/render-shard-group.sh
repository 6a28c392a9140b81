#!/usr/bin/env bash
# Renders shard-group.cfg.tmpl for the master-replica group of one cluster master.
#   render-shard-group.sh --master HOST:PORT --listen HOST:PORT [--nbthread N] [--inter 500ms] > haproxy.cfg
# Servers: the master and its replicas as CLUSTER NODES on the master lists them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
master="" listen="" nbthread=2 inter=500ms
while (($# > 0)); do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --nbthread) nbthread="$2"; shift 2 ;;
    --inter) inter="$2"; shift 2 ;;
    *) echo "render-shard-group: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$master" && -n "$listen" ]] || { echo "usage: $0 --master HOST:PORT --listen HOST:PORT [--nbthread N] [--inter 500ms]" >&2; exit 2; }
nodes="$(redis-cli -h "${master%:*}" -p "${master##*:}" CLUSTER NODES)"
id="$(awk '$3 ~ /myself/ {print $1}' <<<"$nodes")"
[[ -n "$id" ]] || { echo "render-shard-group: no CLUSTER NODES from $master" >&2; exit 1; }
servers="$(awk -v id="$id" -v inter="$inter" '
  $1 == id || $4 == id { addr = $2; sub(/@.*/, "", addr); name = addr; gsub(/[^0-9A-Za-z]/, "_", name)
    printf "  server n%s %s check inter %s fall 1 rise 1 on-marked-down shutdown-sessions\n", name, addr, inter }' <<<"$nodes")"
while IFS= read -r line; do
  if [[ "$line" == "@SERVERS@" ]]; then
    printf '%s\n' "$servers"
  else
    line="${line//@BIND@/$listen}"
    printf '%s\n' "${line//@NBTHREAD@/$nbthread}"
  fi
done <"$here/shard-group.cfg.tmpl"
