#!/usr/bin/env bash
# Installs what the tests need beyond a fresh Debian machine with the .NET SDK.
# Idempotent: installs only what is missing, so it runs before every test run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The tests run the Native AOT helper, so they need what building it needs.
bash "$root/scripts/install-build-deps.sh"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

needed=()
command -v openssl >/dev/null 2>&1 || needed+=(openssl)
command -v curl >/dev/null 2>&1 || needed+=(curl)
# Prometheus and promtool check the alert rules and scrape the helper in end-to-end tests.
command -v promtool >/dev/null 2>&1 || needed+=(prometheus)
# Node.js runs the offline Kubernetes manifest validation (tools/manifest-validation).
command -v node >/dev/null 2>&1 || needed+=(nodejs)
command -v npm >/dev/null 2>&1 || needed+=(npm)
# OpenSSL's headers: the bench builds its C reference for benchmark 4 (bench/Reference/openssl-issuance.c).
dpkg -s libssl-dev >/dev/null 2>&1 || needed+=(libssl-dev)
# chattr: SpiffeHelper tests make a directory immutable to simulate a failed write, even as root.
command -v chattr >/dev/null 2>&1 || needed+=(e2fsprogs)
# Java's keytool opens the helper's PKCS#12 keystore and truststore in end-to-end tests.
command -v keytool >/dev/null 2>&1 || needed+=(default-jdk-headless)
# nginx serves mTLS with the helper's files in the end-to-end tests, each run with its own config on
# a free port (never the packaged service, which policy-rc.d below keeps from starting).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || needed+=(nginx)
# runuser runs a second helper as another user (another workload) in the end-to-end tests.
command -v runuser >/dev/null 2>&1 || [ -x /usr/sbin/runuser ] || needed+=(util-linux)
# podman runs the helper's container image in the end-to-end tests (HelperImageTests), with runc: crun refuses
# cgroups in hybrid mode, which these machines have. nsenter (util-linux) reaches the container's loopback-only
# network for the health check.
command -v podman >/dev/null 2>&1 || needed+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || needed+=(runc)

if [ "${#needed[@]}" -gt 0 ]; then
  echo "installing: ${needed[*]}" >&2
  # Tests start their own servers on loopback; packaged services must not start on install.
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
  [ -z "$policy_added" ] || $sudo rm -f /usr/sbin/policy-rc.d
fi

# The Node tools' packages, exactly as locked in their package-lock.json: the manifest validator and
# the independent Workload API client.
for tool in manifest-validation workload-api-node-client; do
  dir="$root/tools/$tool"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
