# shellcheck shell=bash
# Shared by tools/bench-shard.sh and tools/bench-router.sh (sourced, not run).
# The caller defines die() and the globals work_dir and haproxy_pid before calling cleanup.
# shellcheck disable=SC2154

host_of() { echo "${1%:*}"; }
port_of() { echo "${1##*:}"; }

# A free loopback port for HAProxy.
free_port() {
  local p
  for p in $(shuf -i 20000-39999 -n 200); do
    if [[ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]]; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# Stops the HAProxy this script started (by pid) and removes its work dir.
cleanup() {
  if [[ -n "$haproxy_pid" ]] && kill -0 "$haproxy_pid" 2>/dev/null; then
    kill -TERM "$haproxy_pid" 2>/dev/null || true
    wait "$haproxy_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}

# utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
  local line rest
  read -r line <"/proc/$1/stat" || return 1
  rest="${line##*) }"
  # shellcheck disable=SC2086
  set -- $rest
  echo $((${12} + ${13}))
}
