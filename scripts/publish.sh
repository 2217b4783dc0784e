#!/usr/bin/env bash
# The build steps of the container images, run by the Dockerfile and by CI alike (scripts/test.sh):
#   scripts/publish.sh spiffe-helper OUT   Native AOT for $RID (default linux-x64); trim and AOT warnings fail it
#   scripts/publish.sh minispire OUT       framework-dependent, for the ASP.NET runtime image
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target="${1:-}"
out="${2:-}"
if [ -z "$target" ] || [ -z "$out" ]; then
  echo "usage: scripts/publish.sh spiffe-helper|minispire OUTPUT_DIR" >&2
  exit 2
fi

case "$target" in
  spiffe-helper)
    dotnet publish "$root/src/SpiffeHelper" -c Release -r "${RID:-linux-x64}" -nologo -v quiet -o "$out"
    ;;
  minispire)
    dotnet publish "$root/src/MiniSpire" -c Release -nologo -v quiet -o "$out"
    ;;
  *)
    echo "unknown target \"$target\": spiffe-helper or minispire" >&2
    exit 2
    ;;
esac
