#!/usr/bin/env bash
# Installs what the tests need beyond a fresh Debian machine with the .NET SDK.
# Idempotent: installs only what is missing, so a developer can run it every time.
set -euo pipefail

needed=()
command -v openssl >/dev/null 2>&1 || needed+=(openssl)
# chattr: SpiffeHelper tests make a directory immutable to simulate a failed write, even as root.
command -v chattr >/dev/null 2>&1 || needed+=(e2fsprogs)

if [ "${#needed[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
fi
