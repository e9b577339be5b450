#!/usr/bin/env bash
# A private Dovecot 2.3 for benchmarks, in a directory of its own, on loopback (as root; mail
# owned by the system user vmail, created if missing). Limits are raised for 10,000 sessions.
#
#   bench/dovecot.sh start DIR [PORT] [USERS]   # users bench, bench0 .. bench(USERS-1), password "bench"
#   bench/dovecot.sh stop DIR
#
# PORT defaults to 10143, USERS to 100. Seed it afterwards, e.g.
#   java -jar bench/target/postern-bench.jar seed --maildir DIR/mail/bench/Maildir
# What 10,000 idle sessions need (set here for the processes this script starts; the sysctl
# is machine-wide and left as it is if already higher):
#   ulimit -n 65536           per process: Dovecot, Postern (two sockets per session), the driver
#   fs.inotify.max_user_instances >= 1024   else Dovecot's IDLE falls back to polling (1 s here)
#   IMAP_CLIENT_LIMIT=50 IMAP_PROCESS_LIMIT=400 (sessions per imap process, processes; the
#   defaults 1 and 1024, one process per session as Dovecot ships, allow 1024 sessions)
set -euo pipefail

cmd=${1:?usage: $0 start|stop DIR [PORT] [USERS]}
dir=${2:?usage: $0 start|stop DIR [PORT] [USERS]}
port=${3:-10143}
users=${4:-100}
imap_client_limit=${IMAP_CLIENT_LIMIT:-1}
imap_process_limit=${IMAP_PROCESS_LIMIT:-1024}
# a process serves client_limit sessions at once only if it lives on after its first one
imap_service_count=$([ "$imap_client_limit" -gt 1 ] && echo 0 || echo 1)

case "$cmd" in
  stop)
    doveadm -c "$dir/dovecot.conf" stop
    exit 0
    ;;
  start) ;;
  *) echo "usage: $0 start|stop DIR [PORT] [USERS]" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "$0: Dovecot needs root here" >&2; exit 1; }
id vmail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vmail
uid=$(id -u vmail)
gid=$(id -g vmail)

mkdir -p "$dir/mail" "$dir/run" "$dir/state"
dir=$(cd "$dir" && pwd)
chmod 0755 "$dir" "$dir/mail"
: >"$dir/passwd"
for u in bench $(seq -f 'bench%g' 0 $((users - 1))); do
  echo "$u:{PLAIN}bench::::::" >>"$dir/passwd"
  mkdir -p "$dir/mail/$u/Maildir/cur" "$dir/mail/$u/Maildir/new" "$dir/mail/$u/Maildir/tmp"
done
chmod 0644 "$dir/passwd"
chown -R vmail:vmail "$dir/mail"
chmod 0700 "$dir"/mail/*

cat >"$dir/dovecot.conf" <<EOF
instance_name = postern-bench-$port
base_dir = $dir/run
state_dir = $dir/state
protocols = imap
listen = 127.0.0.1
log_path = $dir/dovecot.log
login_greeting = Dovecot bench ready.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks = 127.0.0.0/8 ::1
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=$dir/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
}
default_client_limit = 20000
default_vsz_limit = 1G
protocol imap {
  mail_max_userip_connections = 20000
  mailbox_idle_check_interval = 1 secs
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}
service imap {
  client_limit = $imap_client_limit
  process_limit = $imap_process_limit
  service_count = $imap_service_count
}
service anvil {
  client_limit = 20000
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  client_limit = 20000
}
EOF

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
dovecot -c "$dir/dovecot.conf"
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "dovecot: imap://127.0.0.1:$port (users bench, bench0..bench$((users - 1)); password bench), dir $dir"
    exit 0
  fi
  sleep 0.1
done
echo "$0: Dovecot did not start; see $dir/dovecot.log" >&2
tail -20 "$dir/dovecot.log" >&2 || true
exit 1
