#!/usr/bin/env bash
# Postern against the same Dovecot directly, every workload, interleaved rounds (A B A B ...).
# Builds nothing: run `mvn -o -B -q -pl proxy,bench -am package -DskipTests` first.
#
#   bench/compare-all.sh [OUT_DIR]      # default /tmp/postern-bench; ROUNDS=3 by default
#
# Starts a private Dovecot (bench/dovecot.sh) on 10143, seeds it (4,000 messages, one of 25 MiB),
# starts Postern (proxy/target/postern.jar run) plain on 11143 in front of it, runs
# `postern-bench compare` for each workload, and leaves the JSON lines in OUT_DIR/results.jsonl
# and the tables in OUT_DIR/tables.txt. Stops both at the end. With HAPROXY=1, haproxy in TCP
# mode on 11443 is compared with Dovecot the same way for noop and fetch: what a relay that does
# not parse costs on the same machine at the same time. WARM_CONNECTIONS=N sets the backend's
# warm_connections (greeted connections kept ready for logins; 0, the default, for none).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-/tmp/postern-bench}
rounds=${ROUNDS:-3}
dovecot_port=${DOVECOT_PORT:-10143}
postern_port=${POSTERN_PORT:-11143}
bench=(java -jar bench/target/postern-bench.jar)

rm -rf "$out"
mkdir -p "$out"
bench/dovecot.sh start "$out/dovecot" "$dovecot_port" 16
"${bench[@]}" seed --maildir "$out/dovecot/mail/bench/Maildir" --messages "${MESSAGES:-4000}" >"$out/seed.json"

cat >"$out/postern.yml" <<EOF
listeners:
  - name: imap
    bind: 127.0.0.1:$postern_port
    tls: none
backends:
  - name: dovecot
    address: 127.0.0.1:$dovecot_port
    tls: none
    warm_connections: ${WARM_CONNECTIONS:-0}
routing:
  strategy: static
  default: dovecot
limits:
  max_sessions_per_user: 0
EOF
java ${POSTERN_JAVA_OPTS:-} -jar proxy/target/postern.jar run --config "$out/postern.yml" >"$out/postern.log" 2>&1 &
postern_pid=$!
haproxy_pid=
if [ "${HAPROXY:-0}" = 1 ]; then
  cat >"$out/haproxy.cfg" <<EOF
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend imap
  bind 127.0.0.1:11443
  default_backend dovecot
backend dovecot
  server dovecot 127.0.0.1:$dovecot_port
EOF
  haproxy -f "$out/haproxy.cfg" -db >"$out/haproxy.log" 2>&1 &
  haproxy_pid=$!
fi
cleanup() {
  kill "$postern_pid" $haproxy_pid 2>/dev/null || true
  wait "$postern_pid" $haproxy_pid 2>/dev/null || true
  bench/dovecot.sh stop "$out/dovecot" || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$postern_port") 2>/dev/null && break
  sleep 0.1
done

compare() {
  echo "== $*" | tee -a "$out/tables.txt"
  "${bench[@]}" compare --a "imap://127.0.0.1:$dovecot_port" --b "imap://127.0.0.1:$postern_port" \
    --rounds "$rounds" "$@" --json "$out/results.jsonl" 2>>"$out/tables.txt" || echo "(exit $?)" >>"$out/tables.txt"
}
reference() {
  echo "== haproxy: $*" | tee -a "$out/tables.txt"
  "${bench[@]}" compare --a "imap://127.0.0.1:$dovecot_port" --b "imap://127.0.0.1:11443" --label-b haproxy \
    --rounds "$rounds" "$@" --json "$out/haproxy.jsonl" 2>>"$out/tables.txt" || echo "(exit $?)" >>"$out/tables.txt"
}

uptime | tee "$out/load-before.txt"
# warm-up: the first minutes of a fresh JVM measure the JIT, not the relay (not recorded)
"${bench[@]}" fetch --target "imap://127.0.0.1:$postern_port" --repeat 3 --big-repeat 3 --json "$out/warmup.jsonl" 2>/dev/null
"${bench[@]}" noop --target "imap://127.0.0.1:$postern_port" --json "$out/warmup.jsonl" 2>/dev/null
# the login path too: a Postern that has not compiled it spends a seventh of a storm in the JIT
"${bench[@]}" login --target "imap://127.0.0.1:$postern_port" --sessions 300 --concurrency 16 --json "$out/warmup.jsonl" 2>/dev/null

compare noop
compare fetch
if [ -n "$haproxy_pid" ]; then
  reference noop
  reference fetch
fi
compare login --sessions 400 --concurrency 16
compare login --sessions 600 --concurrency 64
compare append --count 40 --size 1MiB
compare mixed --clients 16 --operations 4000
compare idle --sessions 500 --user 'bench%d' --user-count 16 --pid "$postern_pid" --warmup-rounds 1
uptime | tee "$out/load-after.txt"
echo "results: $out/results.jsonl, tables: $out/tables.txt"
