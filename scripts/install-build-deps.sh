#!/usr/bin/env bash
# Installs what building the Native AOT spiffe-helper needs beyond the .NET SDK: a clang to link with and
# zlib's headers. Debian images often have both (clang as clang-NN); this adds only what is missing.
set -euo pipefail

needed=()
if ! command -v clang >/dev/null 2>&1 && ! ls /usr/bin/clang-[0-9]* >/dev/null 2>&1; then
  needed+=(clang)
fi
dpkg -s zlib1g-dev >/dev/null 2>&1 || needed+=(zlib1g-dev)

if [ "${#needed[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${needed[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
