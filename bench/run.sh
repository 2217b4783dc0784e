#!/usr/bin/env bash
# Runs the benchmarks of issue #10 with the real binaries and sockets, prints the table, and writes the
# figures and the machine they came from to bench/results/latest.md and latest.json.
#   bash bench/run.sh                 full run (about ten minutes on 2 cores)
#   bash bench/run.sh --tiny          every benchmark once at a tiny size (what CI runs); figures mean nothing
# Options after those are passed to the bench program:
#   --only 1,3          run some benchmarks only       --fanout-10k   also 10,000 agent streams
#   --gc-variants       helper idle memory under GC settings as well
#   --out DIR           where the results go (default bench/results; tiny runs default to artifacts/bench)
#   --no-publish        reuse artifacts/publish (scripts/test.sh has just published both)
#   --no-build          reuse the Release build of SpiffeHelper.sln (the JIT helper and the bench)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

size=full
out=""
publish=1
build=1
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) size=tiny ;;
    --out) out="$2"; shift ;;
    --no-publish) publish=0 ;;
    --no-build) build=0 ;;
    *) pass+=("$1") ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ "$size" = tiny ]; then out="$root/artifacts/bench"; else out="$root/bench/results"; fi
fi

publish_dir="$root/artifacts/publish"
bench_dir="$root/artifacts/bench-build"
if [ "$publish" = 1 ]; then
  bash scripts/publish.sh spiffe-helper "$publish_dir/spiffe-helper"
  bash scripts/publish.sh minispire "$publish_dir/minispire"
fi
# The JIT helper (framework-dependent apphost) and the bench come from the Release build; the bare Native
# AOT reference programs are published here (bench/Reference in seconds, bench/ReferenceClient in about 30 s).
if [ "$build" = 1 ]; then
  dotnet build src/SpiffeHelper -c Release -nologo -v quiet
  dotnet build bench/Bench -c Release -nologo -v quiet
fi
dotnet publish bench/Reference -c Release -r "${RID:-linux-x64}" -nologo -v quiet -o "$bench_dir/reference"
dotnet publish bench/ReferenceClient -c Release -r "${RID:-linux-x64}" -nologo -v quiet -o "$bench_dir/reference-client"
# Benchmark 3's application, in C so the signal is stamped where it arrives (see the file); without a compiler
# the bench falls back to bench-reference signals and says so in its notes.
rm -f "$bench_dir/reference/bench-signal-stamp" "$bench_dir/reference/bench-openssl-issuance"
c_compiler=$(command -v cc || command -v clang || command -v clang-14 || true)
if [ -n "$c_compiler" ]; then
  "$c_compiler" -O2 -Wall -Wextra -Werror -o "$bench_dir/reference/bench-signal-stamp" bench/Reference/signal-stamp.c
  # Benchmark 4's OpenSSL floor with the CSR's key decoded, in C; needs libssl-dev (scripts/install-test-deps.sh).
  if [ -f /usr/include/openssl/x509.h ]; then
    "$c_compiler" -O2 -Wall -Wextra -Werror -o "$bench_dir/reference/bench-openssl-issuance" bench/Reference/openssl-issuance.c -lcrypto -lpthread
  fi
fi
bench_dll="$root/bench/Bench/bin/Release/net10.0/bench.dll"

dotnet "$bench_dll" run --size "$size" \
  --helper "$publish_dir/spiffe-helper/spiffe-helper" \
  --helper-jit "$root/src/SpiffeHelper/bin/Release/net10.0/spiffe-helper" \
  --minispire "$publish_dir/minispire/minispire.dll" \
  --reference "$bench_dir/reference/bench-reference" \
  --reference-client "$bench_dir/reference-client/bench-reference-client" \
  --out "$out" --work "$root/artifacts/bench-work" ${pass[@]+"${pass[@]}"}
dotnet "$bench_dll" verify "$out/latest.json"
