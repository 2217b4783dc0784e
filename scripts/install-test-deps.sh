#!/usr/bin/env bash
# Installs what the tests need beyond a fresh Debian machine with the .NET SDK.
# Idempotent: installs only what is missing, so a developer can run it every time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

needed=()
command -v openssl >/dev/null 2>&1 || needed+=(openssl)
# Node.js runs the offline Kubernetes manifest validation (tools/manifest-validation).
command -v node >/dev/null 2>&1 || needed+=(nodejs)
command -v npm >/dev/null 2>&1 || needed+=(npm)

if [ "${#needed[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
fi

# The validator's packages, exactly as locked in package-lock.json.
validation="$root/tools/manifest-validation"
if [ ! -d "$validation/node_modules" ] || [ "$validation/package-lock.json" -nt "$validation/node_modules/.package-lock.json" ]; then
  (cd "$validation" && npm ci --no-audit --no-fund --loglevel=error)
fi
