#!/usr/bin/env bash
# End-to-end smoke test of the real jar against a real Dovecot.
#
# Starts a private Dovecot (proxy/src/test/resources/dovecot/dovecot.conf.template) in a temp
# dir on free loopback ports, seeds a user's mailbox, starts `java -jar postern.jar run` in front
# of it, and checks that curl (LIST, STATUS, FETCH) and mbsync (all folders) get the same bytes
# through Postern as directly from Dovecot: through a plain listener, an implicit TLS listener
# and a STARTTLS listener with require_tls, all three with a certificate from
# `postern.jar cert generate`. openssl s_client checks both TLS handshakes (certificate
# verified for the name localhost, TLS 1.2 or 1.3), and a LOGIN before STARTTLS must be refused.
# Last, Debian's haproxy (TCP mode, send-proxy-v2) in front of a fourth listener with
# proxy_protocol: true: a curl bound to 127.0.0.2 must get the same LIST, and Dovecot must log
# 127.0.0.2 as the remote address (Postern forwards it with ID x-originating-ip).
# Then the admin listener: /healthz, /readyz, `postern.jar sessions` listing an IDLE session,
# SIGHUP with a bad file refused and `postern.jar reload` with a good one, and SIGTERM: the IDLE
# session gets "* BYE [UNAVAILABLE] server shutting down" and the process exits.
#
# Usage: .ci/smoke.sh [--direct-only]
#   --direct-only   only the direct-to-Dovecot half (for checking the script without a jar)
# Environment:
#   POSTERN_JAR     the jar (default: proxy/target/postern.jar)
#   SMOKE_KEEP=1    keep the temp dir (config, logs, Maildirs) for inspection
# Needs root, dovecot-imapd, curl, isync (mbsync), openssl, haproxy, java. Exit status 0 only if every
# check passed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
JAR=${POSTERN_JAR:-$REPO/proxy/target/postern.jar}
TEMPLATE=$REPO/proxy/src/test/resources/dovecot/dovecot.conf.template
MAIL_USER=vmail
USER_NAME=smoke
PASSWORD=smoke-Secret-1
DIRECT_ONLY=0
case "${1:-}" in
  --direct-only) DIRECT_ONLY=1 ;;
  "") ;;
  *) echo "usage: $0 [--direct-only]" >&2; exit 2 ;;
esac

STARTED=$(date +%s)
WORK=
DOVECOT_PID=
POSTERN_PID=
HAPROXY_PID=
CHECKS=0
FAILED=0

say() { printf 'smoke: %s\n' "$*"; }
die() { printf 'smoke: ERROR: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  trap - EXIT
  if [ -n "$POSTERN_PID" ] && kill -0 "$POSTERN_PID" 2>/dev/null; then
    kill -TERM "$POSTERN_PID"
    for _ in $(seq 100); do kill -0 "$POSTERN_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$POSTERN_PID" 2>/dev/null; then
      say "Postern ignored SIGTERM for 10 s; killing it"
      kill -KILL "$POSTERN_PID"
      status=1
    fi
    wait "$POSTERN_PID" || true   # its exit status after SIGTERM is not this script's verdict
  fi
  if [ -n "$HAPROXY_PID" ] && kill -0 "$HAPROXY_PID" 2>/dev/null; then
    kill -TERM "$HAPROXY_PID"
    for _ in $(seq 50); do kill -0 "$HAPROXY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$HAPROXY_PID" 2>/dev/null && kill -KILL "$HAPROXY_PID"
    wait "$HAPROXY_PID" || true
  fi
  if [ -n "$DOVECOT_PID" ] && kill -0 "$DOVECOT_PID" 2>/dev/null; then
    doveadm -c "$WORK/dovecot.conf" stop || kill -KILL "$DOVECOT_PID"
    wait "$DOVECOT_PID" || true
  fi
  if [ "$status" -ne 0 ] && [ -n "$WORK" ]; then
    for log in "$WORK/dovecot.out" "$WORK/dovecot.log" "$WORK/cert.log" "$WORK/postern.log" "$WORK/haproxy.log"; do
      [ -s "$log" ] && { echo "----- tail of $log"; tail -n 40 "$log"; }
    done
  fi
  if [ -n "$WORK" ]; then
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$status"
}
trap cleanup EXIT

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || die "needs root (Dovecot runs as root with mail owned by $MAIL_USER)"
for tool in dovecot doveadm curl mbsync openssl timeout sha256sum cmp; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install dovecot-imapd curl isync openssl)"
done
[ -f "$TEMPLATE" ] || die "missing $TEMPLATE"
if [ "$DIRECT_ONLY" = 0 ]; then
  command -v java >/dev/null || die "missing java"
  [ -f "$JAR" ] || die "missing $JAR (build it with: mvn -B -ntp verify, or package)"
  command -v haproxy >/dev/null || die "missing haproxy (apt-get install haproxy)"
fi
if ! id "$MAIL_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$MAIL_USER"
fi

WORK=$(mktemp -d /tmp/postern-smoke.XXXXXX)
chmod 0755 "$WORK"   # Dovecot's auth process (user dovecot) reads $WORK/passwd

# Free loopback ports: held open together so they differ, then released for the servers.
free_ports() {
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    local picked=() port
    while [ "${#picked[@]}" -lt "$1" ]; do
      port=$((20000 + RANDOM % 40000))
      case " ${picked[*]} " in *" $port "*) continue ;; esac
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue   # something listens
      picked+=("$port")
    done
    echo "${picked[*]}"
  fi
}
read -r DOVECOT_PORT DOVECOT_TLS_PORT DOVECOT_PROXY_PORT POSTERN_PORT POSTERN_IMAPS_PORT POSTERN_STARTTLS_PORT \
  POSTERN_PROXIED_PORT HAPROXY_PORT POSTERN_ADMIN_PORT <<<"$(free_ports 9)"

# Reads the greeting of HOST:PORT within $2 seconds; prints it.
await_greeting() {
  local port=$1 deadline=$(( $(date +%s) + $2 )) pid=$3 line
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      line=
      IFS= read -r -t 5 line <&3 || true
      exec 3<&-
      case "$line" in "* OK"*) printf '%s\n' "${line%$'\r'}"; return 0 ;; esac
    fi
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- Dovecot and its mail
sed -e "s#@NAME@#smoke#g" -e "s#@DIR@#$WORK#g" -e "s#@SSL@#no#g" \
    -e "s#@MAIL_USER@#$MAIL_USER#g" -e "s#@UID@#$(id -u "$MAIL_USER")#g" -e "s#@GID@#$(id -g "$MAIL_USER")#g" \
    -e "s#@PORT@#$DOVECOT_PORT#g" -e "s#@TLS_PORT@#$DOVECOT_TLS_PORT#g" -e "s#@PROXY_PORT@#$DOVECOT_PROXY_PORT#g" \
    "$TEMPLATE" >"$WORK/dovecot.conf"
if grep -v '^\s*#' "$WORK/dovecot.conf" | grep -q '@[A-Z_]*@'; then
  die "unfilled placeholder in $WORK/dovecot.conf: $(grep -v '^\s*#' "$WORK/dovecot.conf" | grep '@[A-Z_]*@')"
fi
printf '%s:{PLAIN}%s::::::\n' "$USER_NAME" "$PASSWORD" >"$WORK/passwd"
chmod 0644 "$WORK/passwd"

MAILDIR=$WORK/mail/$USER_NAME/Maildir
SEQ=0
# seed FOLDER FILE: deliver FILE into FOLDER (INBOX, or a Maildir++ name such as .Archive).
seed() {
  local dir=$MAILDIR/$1 name
  [ "$1" = INBOX ] && dir=$MAILDIR
  mkdir -p "$dir/cur" "$dir/new" "$dir/tmp"
  [ "$1" = INBOX ] || touch "$dir/maildirfolder"
  SEQ=$((SEQ + 1))
  # Dovecot gives new files UIDs in the order of the time in their names.
  name=$(( STARTED + SEQ )).M0P$$Q$SEQ.smoke
  cp "$2" "$dir/tmp/$name"
  mv "$dir/tmp/$name" "$dir/cur/$name:2,"
}
# message FILE SUBJECT BODY-FILE: a CRLF message.
message() {
  {
    printf 'From: Smoke Test <smoke@postern.invalid>\r\n'
    printf 'To: %s@postern.invalid\r\n' "$USER_NAME"
    printf 'Subject: %s\r\n' "$2"
    printf 'Date: Sat, 22 Nov 2026 10:%02d:00 +0000\r\n' "$SEQ"
    printf 'Message-ID: <%s.%s@postern.invalid>\r\n' "$SEQ" "$RANDOM"
    printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    cat "$3"
  } >"$1"
}
mkdir -p "$WORK/seed"
printf 'Hello from the smoke test.\r\n' >"$WORK/seed/hello.body"
printf 'Gr\xc3\xbc\xc3\x9fe aus Z\xc3\xbcrich \xe2\x80\x94 8-bit UTF-8.\r\n' >"$WORK/seed/utf8.body"
# About 400 KB of every byte value but NUL, CR and LF, in lines of 5000 bytes ending in CRLF.
head -c 420000 /dev/urandom | LC_ALL=C tr -d '\000\r\n' | fold -b -w 5000 | LC_ALL=C sed 's/$/\r/' \
  >"$WORK/seed/big.body"
printf 'Archived.\r\n' >"$WORK/seed/archived.body"
printf 'A list message.\r\n' >"$WORK/seed/list.body"
message "$WORK/seed/1.eml" "hello" "$WORK/seed/hello.body";       seed INBOX "$WORK/seed/1.eml"
message "$WORK/seed/2.eml" "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=" "$WORK/seed/utf8.body"; seed INBOX "$WORK/seed/2.eml"
message "$WORK/seed/3.eml" "big, 8-bit, long lines" "$WORK/seed/big.body"; seed INBOX "$WORK/seed/3.eml"
message "$WORK/seed/4.eml" "archived" "$WORK/seed/archived.body"; seed .Archive "$WORK/seed/4.eml"
message "$WORK/seed/5.eml" "list" "$WORK/seed/list.body";         seed .Lists.postern "$WORK/seed/5.eml"
BIG_UID=3
mkdir -p "$WORK/mail/$USER_NAME"
chown -R "$MAIL_USER:" "$WORK/mail/$USER_NAME"
chmod -R go-rwx "$WORK/mail/$USER_NAME"

dovecot -F -c "$WORK/dovecot.conf" </dev/null >"$WORK/dovecot.out" 2>&1 &
DOVECOT_PID=$!
# While Dovecot starts: the certificate of Postern's TLS listeners, made by the jar itself; the
# name localhost is what curl, mbsync and openssl check it against.
CERT=$WORK/cert/server.crt
if [ "$DIRECT_ONLY" = 0 ]; then
  mkdir "$WORK/cert"
  cert_status=0
  java -jar "$JAR" cert generate --cn localhost --san 127.0.0.1 --out "$WORK/cert" </dev/null >"$WORK/cert.log" 2>&1 \
    || cert_status=$?
  [ "$cert_status" -eq 0 ] || die "postern.jar cert generate exited with $cert_status (its output: $WORK/cert.log)"
  [ -s "$CERT" ] && [ -s "$WORK/cert/server.key" ] \
    || die "postern.jar cert generate wrote no $CERT and server.key (its output: $WORK/cert.log)"
fi
greeting=$(await_greeting "$DOVECOT_PORT" 20 "$DOVECOT_PID") || die "Dovecot gave no greeting on 127.0.0.1:$DOVECOT_PORT"
say "Dovecot on 127.0.0.1:$DOVECOT_PORT: $greeting"

# ---------------------------------------------------------------- Postern
if [ "$DIRECT_ONLY" = 0 ]; then
  cat >"$WORK/postern.yml" <<EOF
listeners:
  - {name: imap, bind: "127.0.0.1:$POSTERN_PORT", tls: none}
  - {name: imaps, bind: "127.0.0.1:$POSTERN_IMAPS_PORT", tls: implicit}
  - {name: starttls, bind: "127.0.0.1:$POSTERN_STARTTLS_PORT", tls: starttls, require_tls: true}
  - {name: proxied, bind: "127.0.0.1:$POSTERN_PROXIED_PORT", tls: none, proxy_protocol: true}
tls:
  certificates:
    - {cert: "$CERT", key: "$WORK/cert/server.key"}
backends:
  - name: dovecot
    address: 127.0.0.1:$DOVECOT_PORT
    tls: none
    forward_client_address: true
routing:
  strategy: static
  default: dovecot
admin:
  bind: 127.0.0.1:$POSTERN_ADMIN_PORT
EOF
  java -jar "$JAR" run --config "$WORK/postern.yml" </dev/null >"$WORK/postern.log" 2>&1 &
  POSTERN_PID=$!
  greeting=$(await_greeting "$POSTERN_PORT" 60 "$POSTERN_PID") \
    || die "Postern gave no greeting on 127.0.0.1:$POSTERN_PORT"
  say "Postern on 127.0.0.1:$POSTERN_PORT: $greeting"
  greeting=$(await_greeting "$POSTERN_STARTTLS_PORT" 10 "$POSTERN_PID") \
    || die "Postern gave no greeting on its STARTTLS listener 127.0.0.1:$POSTERN_STARTTLS_PORT"
  say "Postern STARTTLS on 127.0.0.1:$POSTERN_STARTTLS_PORT: $greeting"
  SIDES="direct postern imaps starttls"
else
  SIDES="direct"
fi

# A side is a way to reach the mail: direct (plain, Dovecot), postern (plain), imaps (implicit
# TLS) and starttls (STARTTLS required), all three through Postern. use_side SIDE sets SIDE_PORT,
# SIDE_HOST, SIDE_URL, SIDE_CURL (curl's TLS options) and SIDE_MBSYNC_SSL (mbsync's SSLType).
# TLS sides use the name localhost, as the certificate does, pinned to 127.0.0.1 where Postern
# listens (localhost may resolve to ::1 first).
use_side() {
  SIDE_HOST=127.0.0.1 SIDE_CURL=() SIDE_MBSYNC_SSL=None
  case "$1" in
    direct) SIDE_PORT=$DOVECOT_PORT SIDE_URL=imap://127.0.0.1:$DOVECOT_PORT ;;
    postern) SIDE_PORT=$POSTERN_PORT SIDE_URL=imap://127.0.0.1:$POSTERN_PORT ;;
    imaps)
      SIDE_PORT=$POSTERN_IMAPS_PORT SIDE_HOST=localhost SIDE_URL=imaps://localhost:$POSTERN_IMAPS_PORT
      SIDE_CURL=(--cacert "$CERT" --resolve "localhost:$SIDE_PORT:127.0.0.1") SIDE_MBSYNC_SSL=IMAPS ;;
    starttls)
      SIDE_PORT=$POSTERN_STARTTLS_PORT SIDE_HOST=localhost SIDE_URL=imap://localhost:$POSTERN_STARTTLS_PORT
      SIDE_CURL=(--ssl-reqd --cacert "$CERT" --resolve "localhost:$SIDE_PORT:127.0.0.1") SIDE_MBSYNC_SSL=STARTTLS ;;
    *) die "unknown side $1" ;;
  esac
}

# ---------------------------------------------------------------- checks
pass() { CHECKS=$((CHECKS + 1)); printf '  ok    %s\n' "$*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$*"; }

# same NAME FILE-A FILE-B: byte-for-byte equal.
same() {
  local difference
  if difference=$(cmp "$2" "$3" 2>&1); then
    pass "$1 ($(wc -c <"$2") bytes)"
  else
    fail "$1: $difference"
  fi
}

# fetch SIDE NAME URL-PATH [curl args...]: output of curl against one side into $WORK/curl/SIDE/NAME.
fetch() {
  local side=$1 name=$2 path=$3 status=0
  shift 3
  mkdir -p "$WORK/curl/$side"
  use_side "$side"
  curl -sS --max-time 60 "${SIDE_CURL[@]}" --user "$USER_NAME:$PASSWORD" --url "$SIDE_URL/$path" "$@" \
    -o "$WORK/curl/$side/$name" 2>"$WORK/curl/$side/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    fail "curl $name via $side: exit $status: $(cat "$WORK/curl/$side/$name.err")"
    return 1
  fi
  [ -s "$WORK/curl/$side/$name" ] || { fail "curl $name via $side: empty output"; return 1; }
}

say "curl (LIST, STATUS, FETCH)"
CURL_CHECKS="list status uid1 big archive"
for side in $SIDES; do
  fetch "$side" list "" || true
  fetch "$side" status "" -X 'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)' || true
  fetch "$side" uid1 'INBOX;UID=1' || true
  fetch "$side" big "INBOX;UID=$BIG_UID" || true
  fetch "$side" archive 'Archive;UID=1' || true
done
# Dovecot itself must hand out what was seeded, or both sides could agree on something wrong.
[ -f "$WORK/curl/direct/uid1" ] && same "direct FETCH UID 1 = seeded message" "$WORK/curl/direct/uid1" "$WORK/seed/1.eml"
[ -f "$WORK/curl/direct/big" ] && same "direct FETCH big = seeded message" "$WORK/curl/direct/big" "$WORK/seed/3.eml"
for side in $SIDES; do
  [ "$side" = direct ] && continue
  for name in $CURL_CHECKS; do
    if [ -f "$WORK/curl/direct/$name" ] && [ -f "$WORK/curl/$side/$name" ]; then
      same "curl $name: Postern $side = direct" "$WORK/curl/$side/$name" "$WORK/curl/direct/$name"
    fi
  done
done

# mbsync every folder of the account into a Maildir of its own, one per side.
mbsync_side() {
  local side=$1 rc=$WORK/mbsyncrc-$1 target=$WORK/mbsync-$1 status=0
  use_side "$side"
  mkdir -p "$target"
  cat >"$rc" <<EOF
IMAPAccount $side
Host $SIDE_HOST
Port $SIDE_PORT
User $USER_NAME
Pass $PASSWORD
SSLType $SIDE_MBSYNC_SSL
AuthMechs LOGIN
$([ "$SIDE_MBSYNC_SSL" = None ] || echo "CertificateFile $CERT")

IMAPStore $side-far
Account $side

MaildirStore $side-near
Path $target/
Inbox $target/INBOX
SubFolders Verbatim

Channel $side
Far :$side-far:
Near :$side-near:
Patterns *
Create Near
Sync Pull
SyncState *
EOF
  mbsync -c "$rc" -a >"$WORK/mbsync-$side.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    fail "mbsync via $side: exit $status: $(tail -n 5 "$WORK/mbsync-$side.log")"
    return 1
  fi
  pass "mbsync via $side: $(find "$target" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l) messages"
}

# digest DIR: per folder, the sha256 of each message file's content and its flags, sorted.
# File names differ between the two Maildirs, and mbsync adds a random X-TUID header to each
# message it stores: that line is left out. Flags agree, as every curl FETCH ran before.
digest() {
  (cd "$1" && find . -type f \( -path '*/cur/*' -o -path '*/new/*' \) | while IFS= read -r file; do
    folder=${file%/*/*}
    flags=${file##*:2,}
    [ "$flags" = "$file" ] && flags=
    printf '%s %s flags=%s\n' "${folder#./}" "$(LC_ALL=C sed '1,/^$/{/^X-TUID: /d}' "$file" | sha256sum | cut -d' ' -f1)" "$flags"
  done | LC_ALL=C sort)
}

say "mbsync (Patterns *, Pull)"
for side in $SIDES; do
  mbsync_side "$side" || true
done
if [ -d "$WORK/mbsync-direct" ]; then
  digest "$WORK/mbsync-direct" >"$WORK/mbsync-direct.digest"
  folders=$(cut -d' ' -f1 "$WORK/mbsync-direct.digest" | sort -u | tr '\n' ' ')
  if [ "$(wc -l <"$WORK/mbsync-direct.digest")" -eq "$SEQ" ]; then
    pass "mbsync direct: all $SEQ seeded messages, in folders ${folders% }"
  else
    fail "mbsync direct: expected $SEQ messages, got $(wc -l <"$WORK/mbsync-direct.digest") in ${folders% }"
  fi
fi
for side in $SIDES; do
  if [ "$side" = direct ] || [ ! -d "$WORK/mbsync-$side" ] || [ ! -f "$WORK/mbsync-direct.digest" ]; then
    continue
  fi
  digest "$WORK/mbsync-$side" >"$WORK/mbsync-$side.digest"
  if diff -u "$WORK/mbsync-direct.digest" "$WORK/mbsync-$side.digest" >"$WORK/mbsync-$side.diff"; then
    pass "mbsync: Postern $side = direct, per folder ($(wc -l <"$WORK/mbsync-direct.digest") message digests)"
  else
    fail "mbsync: Postern $side differs from direct:"
    sed 's/^/        /' "$WORK/mbsync-$side.diff"
  fi
done

# ---------------------------------------------------------------- TLS handshakes and require_tls
# s_client NAME PORT [openssl args...]: a TLS session with Postern that must verify the
# certificate for localhost against $CERT alone, use TLS 1.2 or 1.3, and carry an IMAP LOGOUT.
s_client() {
  local name=$1 port=$2 out=$WORK/s_client-$1.out status=0 protocol
  shift 2
  # -ign_eof: keep reading after stdin ends, until Postern closes the connection after LOGOUT.
  printf 'a LOGOUT\r\n' | timeout 15 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -verify_hostname localhost -CAfile "$CERT" -verify_return_error -ign_eof "$@" >"$out" 2>&1 || status=$?
  if [ "$status" -eq 124 ]; then
    fail "openssl s_client $name: the connection was still open 15 s after LOGOUT"
    return
  elif [ "$status" -ne 0 ]; then
    fail "openssl s_client $name: exit $status: $( { grep -m3 -iE 'error|verif' "$out" || tail -n 3 "$out"; } | tr '\n' ' ')"
    return
  fi
  protocol=$(sed -n 's/^ *Protocol *: *//p' "$out" | head -n 1)
  if ! grep -q '^Verify return code: 0 (ok)' "$out"; then
    fail "openssl s_client $name: $(grep -m1 '^Verify return code' "$out" || echo 'no verify result')"
  elif [ "$protocol" != TLSv1.3 ] && [ "$protocol" != TLSv1.2 ]; then
    fail "openssl s_client $name: protocol '${protocol}' (expected: TLSv1.3 or TLSv1.2)"
  elif ! grep -q '^a OK' "$out"; then
    fail "openssl s_client $name: no 'a OK' to LOGOUT over TLS: $(grep -E '^(\*|a) ' "$out" | tr '\r\n' '  ')"
  else
    pass "openssl s_client $name: verified for localhost, $protocol, LOGOUT answered"
  fi
}

# imap_exchange TAG COMMAND: sends the command on fd 3, sets TAGGED to the tagged line and
# UNTAGGED to the lines before it (CRs removed).
imap_exchange() {
  local line
  TAGGED= UNTAGGED=
  printf '%s %s\r\n' "$1" "$2" >&3
  while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}
    case "$line" in
      "$1 "*) TAGGED=$line; return 0 ;;
      *) UNTAGGED+="$line"$'\n' ;;
    esac
  done
  return 1
}

# require_tls: on the STARTTLS listener, LOGIN in plain text is refused with PRIVACYREQUIRED
# (and CAPABILITY says LOGINDISABLED), and the connection stays usable.
require_tls() {
  local port=$POSTERN_STARTTLS_PORT greeting expected="b NO [PRIVACYREQUIRED] Use STARTTLS first."
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { fail "require_tls: cannot connect to $port"; return; }
  IFS= read -r -t 5 greeting <&3 || { fail "require_tls: no greeting on $port"; exec 3<&-; return; }
  if ! imap_exchange a CAPABILITY; then
    fail "require_tls: no tagged reply to CAPABILITY: ${UNTAGGED}"
  elif ! grep -q '^\* CAPABILITY .* STARTTLS' <<<"$UNTAGGED" || ! grep -q '^\* CAPABILITY .* LOGINDISABLED' <<<"$UNTAGGED"; then
    fail "require_tls: CAPABILITY lacks STARTTLS or LOGINDISABLED: ${UNTAGGED%$'\n'}"
  else
    pass "require_tls: CAPABILITY before STARTTLS has STARTTLS and LOGINDISABLED"
  fi
  if ! imap_exchange b "LOGIN $USER_NAME $PASSWORD"; then
    fail "require_tls: no tagged reply to LOGIN: ${UNTAGGED}"
  elif [ "$TAGGED" != "$expected" ]; then
    fail "require_tls: LOGIN before STARTTLS got '$TAGGED' (expected: '$expected')"
  else
    pass "require_tls: LOGIN before STARTTLS got '$TAGGED'"
  fi
  if imap_exchange c LOGOUT && [[ "$TAGGED" == "c OK"* ]]; then
    pass "require_tls: LOGOUT after the refused LOGIN: $TAGGED"
  else
    fail "require_tls: LOGOUT after the refused LOGIN got '$TAGGED'"
  fi
  exec 3<&-
}

if [ "$DIRECT_ONLY" = 0 ]; then
  say "TLS (openssl s_client, require_tls)"
  s_client implicit "$POSTERN_IMAPS_PORT"
  s_client starttls "$POSTERN_STARTTLS_PORT" -starttls imap
  require_tls
  if grep -qF "$PASSWORD" "$WORK/postern.log"; then
    fail "Postern's log holds the password"
  else
    pass "Postern's log holds no password"
  fi
fi

# ---------------------------------------------------------------- haproxy in front (PROXY v2)
# haproxy (connecting from 127.0.0.1) relays a client bound to 127.0.0.2 to the proxy_protocol
# listener; the address in its PROXY v2 header must be the one Dovecot logs for the login.
login_from_127_0_0_2() {
  grep -m1 -o "Login: user=<$USER_NAME>.* rip=127\.0\.0\.2, lip=[0-9.]*" "$WORK/dovecot.log"
}

haproxy_in_front() {
  local list=$WORK/curl/haproxy-list status=0 deadline line
  cat >"$WORK/haproxy.cfg" <<EOF
global
  maxconn 64
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend imap
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend postern
backend postern
  server postern 127.0.0.1:$POSTERN_PROXIED_PORT send-proxy-v2
EOF
  haproxy -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 || { fail "haproxy -c: $(tail -n 3 "$WORK/haproxy.log")"; return; }
  haproxy -db -f "$WORK/haproxy.cfg" </dev/null >>"$WORK/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  if ! line=$(await_greeting "$HAPROXY_PORT" 10 "$HAPROXY_PID"); then
    fail "haproxy: no greeting through 127.0.0.1:$HAPROXY_PORT: $(tail -n 3 "$WORK/haproxy.log")"
    return
  fi
  pass "haproxy on 127.0.0.1:$HAPROXY_PORT relays Postern's greeting: $line"
  mkdir -p "$WORK/curl"
  curl -sS --max-time 30 --interface 127.0.0.2 --user "$USER_NAME:$PASSWORD" --url "imap://127.0.0.1:$HAPROXY_PORT/" \
    -o "$list" 2>"$list.err" || status=$?
  if [ "$status" -ne 0 ]; then
    fail "curl LIST from 127.0.0.2 via haproxy: exit $status: $(cat "$list.err")"
    return
  fi
  [ -f "$WORK/curl/direct/list" ] && same "curl list: haproxy + Postern (PROXY v2) = direct" "$list" "$WORK/curl/direct/list"
  # Dovecot may write the login line a moment after the answer: a bounded wait for it.
  deadline=$(( $(date +%s) + 5 ))
  until line=$(login_from_127_0_0_2) || [ "$(date +%s)" -ge "$deadline" ]; do
    sleep 0.2
  done
  if line=$(login_from_127_0_0_2); then
    pass "Dovecot logged the client behind haproxy: $line"
  else
    fail "Dovecot logged no login with rip=127.0.0.2: $(grep 'Login: ' "$WORK/dovecot.log" | tail -n 2)"
  fi
  if grep -q "logged in from /127\.0\.0\.2:" "$WORK/postern.log"; then
    pass "Postern logged the login from 127.0.0.2, the address in haproxy's PROXY header"
  else
    fail "Postern's log has no login from 127.0.0.2"
  fi
}

if [ "$DIRECT_ONLY" = 0 ]; then
  say "haproxy (send-proxy-v2) in front of a proxy_protocol listener"
  haproxy_in_front
fi

# ---------------------------------------------------------------- admin API, reload, graceful stop
# admin_and_lifecycle: the admin listener answers; postern.jar sessions lists an IDLE session;
# SIGHUP with a bad file is refused and keeps the running configuration, with a good one reloads;
# SIGTERM gives the IDLE session "* BYE [UNAVAILABLE] server shutting down" and Postern exits.
admin_and_lifecycle() {
  local admin=http://127.0.0.1:$POSTERN_ADMIN_PORT line fd listing deadline
  line=$(curl -sS --max-time 10 "$admin/healthz") && [ "$line" = ok ] \
    && pass "admin /healthz: $line" || fail "admin /healthz: $line"
  line=$(curl -sS --max-time 10 "$admin/readyz") && [ "$line" = ready ] \
    && pass "admin /readyz: $line" || fail "admin /readyz: $line"
  exec {fd}<>"/dev/tcp/127.0.0.1/$POSTERN_PORT"
  read -t 10 -r line <&"$fd" || true
  printf 'a LOGIN %s %s\r\nb SELECT INBOX\r\nc IDLE\r\n' "$USER_NAME" "$PASSWORD" >&"$fd"
  line=
  while [ "${line:0:1}" != "+" ] && read -t 10 -r line <&"$fd"; do :; done
  [ "${line:0:1}" = "+" ] && pass "IDLE through Postern: ${line%$'\r'}" || fail "no IDLE continuation: $line"
  listing=$(java -jar "$JAR" sessions --admin "$admin" 2>&1) || true
  if grep -q " $USER_NAME .* dovecot .* relay " <<<"$listing"; then
    pass "postern.jar sessions lists the IDLE session of $USER_NAME on dovecot"
  else
    fail "postern.jar sessions: $listing"
  fi
  cp "$WORK/postern.yml" "$WORK/postern.yml.good"
  sed -i 's/default: dovecot/default: nowhere/' "$WORK/postern.yml"
  kill -HUP "$POSTERN_PID"
  deadline=$(( $(date +%s) + 10 ))
  until grep -q 'reload of .* refused' "$WORK/postern.log" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done
  grep -q 'refused, the running configuration stays: .*routing.default: unknown backend "nowhere"' "$WORK/postern.log" \
    && pass "SIGHUP with a bad file: refused, the running configuration stays" || fail "SIGHUP with a bad file: not refused"
  cp "$WORK/postern.yml.good" "$WORK/postern.yml"
  line=$(java -jar "$JAR" reload --admin "$admin" 2>&1) && grep -q '"result" : "reloaded ' <<<"$line" \
    && pass "postern.jar reload: reloaded" || fail "postern.jar reload: $line"
  kill -TERM "$POSTERN_PID"
  # Dovecot's IDLE keepalive ("* OK Still here") comes at a time aligned per user, so it may come
  # first: untagged OKs are read past, anything else is the answer
  line=
  while read -t 15 -r line <&"$fd" && [ "${line%$'\r'}" = "* OK Still here" ]; do :; done
  [ "${line%$'\r'}" = "* BYE [UNAVAILABLE] server shutting down" ] \
    && pass "SIGTERM: the IDLE session got: ${line%$'\r'}" || fail "SIGTERM: the IDLE session got: $line"
  exec {fd}<&-
  deadline=$(( $(date +%s) + 15 ))
  while kill -0 "$POSTERN_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$POSTERN_PID" 2>/dev/null; then
    fail "Postern still runs 15 s after SIGTERM"
  else
    wait "$POSTERN_PID" || true
    pass "Postern exited after SIGTERM"
    POSTERN_PID=
  fi
}

if [ "$DIRECT_ONLY" = 0 ]; then
  say "admin API, reload, graceful shutdown"
  admin_and_lifecycle
fi

# ---------------------------------------------------------------- summary
if [ -n "$POSTERN_PID" ] && ! kill -0 "$POSTERN_PID" 2>/dev/null; then
  fail "Postern exited during the checks"
fi
say "$CHECKS checks, $FAILED failed, $(( $(date +%s) - STARTED )) s ($([ "$DIRECT_ONLY" = 1 ] && echo 'direct only' || echo 'direct and through Postern'))"
[ "$FAILED" -eq 0 ] || exit 1
