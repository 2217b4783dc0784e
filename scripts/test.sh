#!/usr/bin/env bash
# Runs every test of the solution and ends with the totals alone on a line:
#   N passed, N failed, N skipped
# Fails when a test fails or when no test ran. Installs what the tests need first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/install-test-deps.sh

results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

dotnet build SpiffeHelper.sln -c Release -nologo -v quiet

# The Native AOT spiffe-helper that some SpiffeHelper tests run, published once here (trim and AOT
# warnings fail the build: TreatWarningsAsErrors applies to them too).
# It is the image's publish step (scripts/publish.sh, as the Dockerfile runs it).
bash scripts/publish.sh spiffe-helper "$root/artifacts/publish/spiffe-helper"
# The minispire image's publish step too, so both of the Dockerfile's build steps run on every CI run.
bash scripts/publish.sh minispire "$root/artifacts/publish/minispire"
export SPIFFE_HELPER_BINARY="$root/artifacts/publish/spiffe-helper/spiffe-helper"
status=0
dotnet test SpiffeHelper.sln -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" -- RunConfiguration.TestSessionTimeout=1500000 || status=$?

# Every benchmark once at a tiny size so bench/ cannot rot (about a minute); it asserts nothing about speed,
# only that each benchmark ran and wrote a well-formed results file (artifacts/bench/latest.json).
bench_status=0
bash bench/run.sh --tiny --no-publish --no-build || bench_status=$?

passed=0 failed=0 skipped=0 total=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { printf '%s' "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  total=$((total + $(value total)))
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
  skipped=$((skipped + $(value notExecuted)))
done

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$total" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
if [ "$bench_status" -ne 0 ]; then
  echo "bench: the tiny benchmark run failed (exit $bench_status); see its output above" >&2
  exit 1
fi
if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
  exit 1
fi
