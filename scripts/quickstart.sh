#!/usr/bin/env bash
# The main job, end to end, on one machine:
#   a MiniSpire server and agent (join token, bootstrap bundle), a registration entry for the current
#   user (unix:uid:<uid>) with a 60 s X509-SVID TTL, and spiffe-helper in daemon mode writing
#   svid.pem / svid_key.pem / bundle.pem into ./.quickstart/certs; the agent renews each SVID when about half
#   its lifetime is left (27-33 s of 60 s), so they rotate about every 30 s.
# It prints the SPIFFE ID, the files and each rotation with the time since the previous one. Ctrl-C stops
# everything it started. One quickstart at a time: a second run says so and exits 1, touching nothing.
# The binaries are rebuilt only when a source file is newer than them.
#
# QUICKSTART_ROTATIONS=N stops by itself after N rotations (for demos and checks).
# QUICKSTART_SERVER_PORT (default 18081) and QUICKSTART_HEALTH_PORT (default 18088) move the two TCP ports.
# QUICKSTART_DIR (default ./.quickstart) moves everything it writes; its lock is QUICKSTART_DIR.lock.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

work="${QUICKSTART_DIR:-$root/.quickstart}"
bin="$work/bin"
logs="$work/logs"
certs="$work/certs"
server_port="${QUICKSTART_SERVER_PORT:-18081}"
health_port="${QUICKSTART_HEALTH_PORT:-18088}"
rotations_wanted="${QUICKSTART_ROTATIONS:-0}"
trust_domain="example.org"
uid=$(id -u)
user_name=$(id -un)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

for tool in dotnet openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "quickstart needs $tool on PATH" >&2; exit 1; }
done

# The lock first, before anything is built, deleted or started: a running quickstart's sockets and files are
# never touched by a second one. flock releases it when this shell exits, however it exits.
lock="$work.lock"
exec 9>>"$lock"
if ! flock -n 9; then
  echo "quickstart: another quickstart is running (pid $(cat "$lock" 2>/dev/null || echo '?'), lock $lock); stop it first (Ctrl-C in its terminal)" >&2
  exit 1
fi
echo $$ > "$lock"

for var in QUICKSTART_SERVER_PORT:$server_port QUICKSTART_HEALTH_PORT:$health_port; do
  port=${var#*:}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "quickstart: port $port is taken; set ${var%%:*} to a free port to move it" >&2
    exit 1
  fi
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  if [ "${#pids[@]}" -gt 0 ]; then
    say "Stopping spiffe-helper, the agent and the server"
    # Reverse order: the helper first, the server last.
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

minispire=("$bin/minispire/minispire")
helper="$bin/spiffe-helper/spiffe-helper"
# A build is needed when a binary is missing or a source file (or a props file) is newer than it.
stale() { [ ! -x "$1" ] || [ -n "$(find src Directory.Build.props Directory.Packages.props -newer "$1" -type f -print -quit)" ]; }
# The last run's state goes (it was stopped: the lock says so); the built binaries stay.
rm -rf "$work/server" "$work/agent" "$work/server-data" "$work/agent-data" "$logs" "$certs"
mkdir -p "$bin" "$logs" "$certs"
if stale "${minispire[0]}" || stale "$helper"; then
  bash scripts/install-build-deps.sh
  say "Building minispire and the Native AOT spiffe-helper (first run takes a minute or two)"
  stale "${minispire[0]}" && bash scripts/publish.sh minispire "$bin/minispire" >/dev/null
  stale "$helper" && bash scripts/publish.sh spiffe-helper "$bin/spiffe-helper" >/dev/null
  touch "${minispire[0]}" "$helper"
else
  say "minispire and spiffe-helper are up to date in $bin"
fi

server_socket="$work/server/api.sock"
agent_socket="$work/agent/public/api.sock"

cat > "$work/server.toml" <<EOF
[server]
trust_domain = "$trust_domain"
bind_address = "127.0.0.1"
bind_port = $server_port
socket_path = "$server_socket"
data_dir = "$work/server-data"
log_level = "INFO"
EOF

say "Starting the MiniSpire server (agent API on 127.0.0.1:$server_port, log: $logs/server.log)"
"${minispire[@]}" server run -config "$work/server.toml" >"$logs/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  "${minispire[@]}" server healthcheck -socketPath "$server_socket" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$logs/server.log" >&2; echo "the server exited" >&2; exit 1; }
  sleep 0.2
done

token=$("${minispire[@]}" server token generate -socketPath "$server_socket" | sed -n 's/^Token: //p')
agent_id="spiffe://$trust_domain/spire/agent/join_token/$token"
"${minispire[@]}" server bundle show -socketPath "$server_socket" > "$work/bootstrap-bundle.pem"

cat > "$work/agent.toml" <<EOF
[agent]
trust_domain = "$trust_domain"
server_address = "127.0.0.1"
server_port = $server_port
socket_path = "$agent_socket"
admin_socket_path = "$work/agent/private/admin.sock"
data_dir = "$work/agent-data"
trust_bundle_path = "$work/bootstrap-bundle.pem"
sync_interval = "2s"
# DEBUG: the agent logs each caller's selectors ("PID attested to have selectors"), as lab 4 reads them.
log_level = "DEBUG"
EOF

say "Starting the MiniSpire agent as $agent_id (Workload API: $agent_socket, log: $logs/agent.log)"
"${minispire[@]}" agent run -config "$work/agent.toml" -joinToken "$token" >"$logs/agent.log" 2>&1 &
pids+=($!)

workload_id="spiffe://$trust_domain/quickstart/$user_name"
say "Registering $workload_id for unix:uid:$uid with a 60 s X509-SVID TTL"
"${minispire[@]}" server entry create -socketPath "$server_socket" \
  -parentID "$agent_id" -spiffeID "$workload_id" -selector "unix:uid:$uid" -x509SVIDTTL 60 \
  | sed 's/^/    /'

for _ in $(seq 1 100); do
  "${minispire[@]}" agent healthcheck -socketPath "$agent_socket" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$logs/agent.log" >&2; echo "the agent exited" >&2; exit 1; }
  sleep 0.2
done

cat > "$work/helper.conf" <<EOF
agent_address = "unix://$agent_socket"
cert_dir = "$certs"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
daemon_mode = true

[health_checks]
listener_enabled = true
bind_port = $health_port
EOF

say "Starting spiffe-helper (config: $work/helper.conf, log: $logs/helper.log)"
"$helper" -config "$work/helper.conf" >"$logs/helper.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 150); do
  [ -s "$certs/svid.pem" ] && break
  kill -0 "${pids[2]}" 2>/dev/null || { cat "$logs/helper.log" >&2; echo "spiffe-helper exited" >&2; exit 1; }
  sleep 0.2
done
[ -s "$certs/svid.pem" ] || { cat "$logs/helper.log" >&2; echo "spiffe-helper wrote nothing" >&2; exit 1; }

say "Files written by spiffe-helper in $certs"
ls -l "$certs" | sed 's/^/    /'
echo "    SPIFFE ID: $(openssl x509 -in "$certs/svid.pem" -noout -ext subjectAltName | sed -n 's/.*URI://p' | tr -d ' ')"
echo "    Health:    http://127.0.0.1:$health_port/ready  ->  $(curl -s "http://127.0.0.1:$health_port/ready" || true)"
echo "    Metrics:   http://127.0.0.1:$health_port/metrics  ->  $(curl -s "http://127.0.0.1:$health_port/metrics" | grep -m1 '^spiffe_helper_x509_svid_expiry_timestamp_seconds' || true)"
openssl verify -CAfile "$certs/bundle.pem" "$certs/svid.pem" | sed 's/^/    /'

say "Watching rotations: the agent renews the 60 s SVID when about half of it is left, so about every 30 s (Ctrl-C to stop everything)"
last=""
last_at=0
rotations=-1
while true; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process stopped unexpectedly; logs are in $logs" >&2; exit 1; }
  done
  current=$(openssl x509 -in "$certs/svid.pem" -noout -serial -enddate 2>/dev/null | tr '\n' ' ' || true)
  if [ -n "$current" ] && [ "$current" != "$last" ]; then
    rotations=$((rotations + 1))
    serial=$(printf '%s' "$current" | sed -n 's/.*serial=\([0-9A-F]*\).*/\1/p')
    until=$(printf '%s' "$current" | sed -n 's/.*notAfter=\(.*GMT\).*/\1/p')
    key_matches=$([ "$(openssl pkey -in "$certs/svid_key.pem" -pubout 2>/dev/null)" = "$(openssl x509 -in "$certs/svid.pem" -noout -pubkey)" ] && echo "key matches" || echo "KEY MISMATCH")
    now=$(date +%s)
    if [ "$rotations" -eq 0 ]; then
      echo "    $(date -u +%H:%M:%S) first SVID: serial $serial, valid until $until, $key_matches"
    else
      echo "    $(date -u +%H:%M:%S) rotation $rotations: serial $serial, valid until $until, $key_matches, $((now - last_at)) s after the previous"
    fi
    last="$current"
    last_at=$now
    if [ "$rotations_wanted" -gt 0 ] && [ "$rotations" -ge "$rotations_wanted" ]; then
      say "Saw $rotations rotation(s)"
      exit 0
    fi
  fi
  sleep 1
done
