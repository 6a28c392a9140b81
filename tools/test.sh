#!/usr/bin/env bash
# Builds the solution and runs every test project in it; the last line is "N passed, M failed".
# Exit 0 only when nothing failed and at least one test passed. Works from any cwd; CI runs it
# through .ci/run. Integration tests need redis-server and redis-cli, and Node.js with npm for the node
# client battery (tools/clients/run.sh), promtool for the /metrics check and chromium for the dashboard test, installed here when missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

readonly SOLUTION="ClusterGate.sln"
readonly RESULTS_DIR="$repo_root/artifacts/test-results"

# apt-get install of the given packages, as root or through sudo.
apt_install() {
  if [[ "$(id -u)" -eq 0 ]]; then
    apt-get update
    apt-get install -y "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update
    sudo apt-get install -y "$@"
  else
    echo "cannot install as $(id -un) without sudo; run as root: apt-get update && apt-get install -y $*" >&2
    exit 1
  fi
}

ensure_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return
  fi
  echo "redis-server/redis-cli missing: installing redis-server redis-tools"
  apt_install redis-server redis-tools
}

# The machine image ships Node.js 20 with npm; Debian's own nodejs is older than the client packages ask for
# (tools/clients/run.sh warns), but is still installed rather than leave the node client battery unrun.
ensure_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    return
  fi
  echo "node/npm missing: installing nodejs npm"
  apt_install nodejs npm
}

# promtool (Debian's prometheus package) checks the admin port's /metrics the way Prometheus parses it.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    return
  fi
  echo "promtool missing: installing prometheus (for promtool)"
  apt_install --no-install-recommends prometheus
}

# python3 runs tools/no-io-uring.py (the transport fallback test) and lists failed tests from the TRX files.
ensure_python3() {
  if command -v python3 >/dev/null 2>&1; then
    return
  fi
  echo "python3 missing: installing python3 (tools/no-io-uring.py, the transport fallback test)"
  apt_install --no-install-recommends python3
}

# Debian's chromium, which the dashboard test drives headless through Playwright (no browser download).
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then
    return
  fi
  echo "chromium missing: installing chromium"
  apt_install --no-install-recommends chromium
}

# Test projects of the solution: those under tests/ (the solution file is the source of truth).
test_projects() {
  dotnet sln "$SOLUTION" list | tr '\134' '/' | grep -E '^tests/.+\.csproj$' | sort
}

# Reads one attribute of the TRX <Counters .../> element; 0 when absent.
counter() {
  local trx="$1" name="$2" value
  value="$(grep -o "<Counters [^>]*" "$trx" | grep -o " $name=\"[0-9]*\"" | grep -o '[0-9]\+' || true)"
  echo "${value:-0}"
}

# Names the failed tests of one TRX file, each with the first line of its message, so the end of a CI log says
# which test failed and why without the whole console output.
failed_tests() {
  python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
root = ET.parse(sys.argv[1]).getroot()
failed = [r for r in root.iterfind(".//t:UnitTestResult", ns) if r.get("outcome") not in ("Passed", "NotExecuted")]
for result in failed[:20]:
    message = result.find("t:Output/t:ErrorInfo/t:Message", ns)
    first = (message.text or "").strip().splitlines()[0][:300] if message is not None and message.text else ""
    print(f"  FAILED {result.get('testName')}: {first}")
if len(failed) > 20:
    print(f"  ... and {len(failed) - 20} more")
PY
}

main() {
  ensure_redis
  redis-server --version
  ensure_node
  echo "node $(node --version), npm $(npm --version)"
  ensure_promtool
  promtool --version | head -1
  ensure_chromium
  ensure_python3
  chromium --version 2>/dev/null || true

  if ! dotnet build "$SOLUTION" -c Release; then
    echo "dotnet build failed: no tests ran"
    echo "0 passed, 0 failed"
    exit 1
  fi

  rm -rf "$RESULTS_DIR"
  mkdir -p "$RESULTS_DIR"

  local projects=() project name trx exit_code passed failed total_passed=0 total_failed=0 summary=()
  mapfile -t projects < <(test_projects)
  if ((${#projects[@]} == 0)); then
    echo "no test projects found in $SOLUTION" >&2
  fi

  # Every project once on the transport `auto` picks (io_uring where the kernel allows it), then the tests that
  # carry client traffic (frontends, reliability, the transport's own) again on Kestrel's sockets, the fallback:
  # topology, routing tables and host tests do not depend on which transport carries the bytes.
  local runs=() run transport filter
  for project in "${projects[@]}"; do
    runs+=("$(basename "$project" .csproj)|$project||")
    if [[ "$(basename "$project" .csproj)" == "ClusterGate.IntegrationTests" ]]; then
      runs+=("ClusterGate.IntegrationTests.sockets|$project|sockets|FullyQualifiedName~.Router.|FullyQualifiedName~.ShardPorts.|FullyQualifiedName~.Reliability.")
    fi
  done

  for run in "${runs[@]}"; do
    IFS='|' read -r name project transport filter <<<"$run"
    filter="${run#*|*|*|}"
    [[ "$filter" == "$run" ]] && filter=""
    trx="$RESULTS_DIR/$name.trx"
    echo "=== $name${transport:+ (CLUSTERGATE__Transport=$transport)}"
    exit_code=0
    CLUSTERGATE__Transport="${transport:-auto}" dotnet test "$project" --no-build -c Release \
      ${filter:+--filter "$filter"} \
      --results-directory "$RESULTS_DIR" \
      --logger "trx;LogFileName=$name.trx" \
      --logger "console;verbosity=normal" \
      --blame-hang-timeout 15m --blame-hang-dump-type none || exit_code=$?

    if [[ ! -f "$trx" ]]; then
      echo "$name: the run produced no TRX (exit code $exit_code); counted as 1 failed"
      summary+=("$name: no results, counted as 1 failed")
      total_failed=$((total_failed + 1))
      continue
    fi
    passed="$(counter "$trx" passed)"
    failed=$(($(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted)))
    if ((exit_code != 0 && failed == 0)); then
      echo "$name: dotnet test exited with $exit_code but no test failed (test host crash?); counted as 1 failed"
      failed=1
    fi
    summary+=("$name: $passed passed, $failed failed")
    if ((failed > 0)); then
      mapfile -t -O "${#summary[@]}" summary < <(failed_tests "$trx" || true)
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
  done

  echo
  echo "=== Summary (TRX files in ${RESULTS_DIR#"$repo_root"/})"
  local line
  for line in "${summary[@]}"; do
    echo "$line"
  done
  echo "$total_passed passed, $total_failed failed"
  ((total_failed == 0 && total_passed > 0))
}

main "$@"
