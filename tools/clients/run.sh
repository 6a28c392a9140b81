#!/usr/bin/env bash
# Runs node-battery.mjs (node-redis and ioredis with default options) against HOST PORT. Installs the pinned
# packages from package-lock.json into tools/clients/node_modules (npm ci) when they are missing or older than
# the lock file; concurrent runs take turns on the install. Exit code: the battery's (0 only when every step
# passed), 2 for bad usage, 3 when node or npm is missing (tools/test.sh installs them).
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if (($# != 2)); then
  echo "usage: $0 HOST PORT" >&2
  exit 2
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: install Node.js 20 or newer with npm (apt-get install -y nodejs npm)" >&2
    exit 3
  fi
done

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
  echo "warning: node $(node --version) is older than the packages' engines (>= 20)" >&2
fi

install_if_needed() {
  local marker="$dir/node_modules/.package-lock.json"
  if [[ -f "$marker" && ! "$dir/package-lock.json" -nt "$marker" ]]; then
    return
  fi
  echo "# npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# The lock file is tracked, so it always exists to lock on; flock waits for another run's install.
exec 9<"$dir/package-lock.json"
flock 9
install_if_needed
flock -u 9

exec node "$dir/node-battery.mjs" "$1" "$2"
