#!/bin/bash
# bench/peers/setup.sh - install and configure the servers mailroom's benchmarks
# compare against: Dovecot (IMAP, POP3, LMTP) and Postfix, from Debian's packages,
# on loopback only, on ports that are not the standard ones. Idempotent.
#
#   Dovecot IMAP  127.0.0.1:10143   plaintext auth, no TLS (both sides of a bench run plain)
#   Dovecot POP3  127.0.0.1:10110
#   Dovecot LMTP  127.0.0.1:10024
#   Postfix SMTP  127.0.0.1:10025   @example.test -> Dovecot LMTP; @sink.test -> discard
#   users user1..user$NUSERS, password 'pass', Maildir in $PEERS_DIR/mail/userN/Maildir
#
# Everything lives under $PEERS_DIR (default /opt/mailroom-peers): configs, mail,
# spool, logs. The system's own /etc/dovecot and /etc/postfix are left alone: the
# peers run as separate instances (dovecot -c, postfix -c), started and stopped by
# bench/peers/peers.ts through their own pid files.
#
# Usage: sudo bench/peers/setup.sh [--no-apt]
set -euo pipefail

PEERS_DIR=${PEERS_DIR:-/opt/mailroom-peers}
NUSERS=${NUSERS:-100}
DOMAIN=${DOMAIN:-example.test}
SINK_DOMAIN=${SINK_DOMAIN:-sink.test}
RUN_DIR=/run/mailroom-peers
DO_APT=1
for a in "$@"; do
  case "$a" in
    --no-apt) DO_APT=0 ;;
    *) echo "usage: $0 [--no-apt]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then echo "setup.sh: must run as root" >&2; exit 1; fi

# ---------------------------------------------------------------- packages
need_pkgs=()
for p in dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$DO_APT" = 0 ]; then echo "setup.sh: missing packages: ${need_pkgs[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # Postfix "No configuration": its system instance stays unconfigured; ours is separate.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" procps iproute2
fi

# Debian starts the system instances on install (when an init system runs); they
# would hold no ports of ours, but stop nothing here: they are not ours to stop.

# ---------------------------------------------------------------- accounts, dirs
getent group vmail >/dev/null || groupadd --system vmail
getent passwd vmail >/dev/null || useradd --system -g vmail -d "$PEERS_DIR/mail" -s /usr/sbin/nologin vmail
VUID=$(id -u vmail); VGID=$(id -g vmail)
mkdir -p "$PEERS_DIR/etc/dovecot" "$PEERS_DIR/etc/postfix" "$PEERS_DIR/log" "$PEERS_DIR/mail" \
  "$PEERS_DIR/state/dovecot" "$PEERS_DIR/postfix/data" "$PEERS_DIR/postfix/spool"
chmod 0755 "$PEERS_DIR" "$PEERS_DIR/etc" "$PEERS_DIR/log"
chown vmail:vmail "$PEERS_DIR/mail"
chown postfix:postfix "$PEERS_DIR/postfix/data"
touch "$PEERS_DIR/log/dovecot.log" "$PEERS_DIR/log/dovecot-info.log" "$PEERS_DIR/log/postfix.log"

# passwd-file: user:password:uid:gid:gecos:home:shell:extra
USERS_FILE="$PEERS_DIR/etc/dovecot/users"
tmp=$(mktemp)
for i in $(seq 1 "$NUSERS"); do
  echo "user$i:{PLAIN}pass:$VUID:$VGID::$PEERS_DIR/mail/user$i::"
done > "$tmp"
install -m 0640 -o root -g dovecot "$tmp" "$USERS_FILE"; rm -f "$tmp"

# ---------------------------------------------------------------- dovecot
cat > "$PEERS_DIR/etc/dovecot/dovecot.conf" <<EOF
# Written by mailroom bench/peers/setup.sh; complete (no conf.d). Start: dovecot -c THIS
instance_name = mailroom-peers
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = $RUN_DIR/dovecot/
state_dir = $PEERS_DIR/state/dovecot
log_path = $PEERS_DIR/log/dovecot.log
info_log_path = $PEERS_DIR/log/dovecot-info.log

disable_plaintext_auth = no
ssl = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $USERS_FILE
}
userdb {
  driver = passwd-file
  args = username_format=%n $USERS_FILE
}
first_valid_uid = $VUID
last_valid_uid = $VUID
mail_location = maildir:~/Maildir
postmaster_address = postmaster@$DOMAIN
hostname = peers.$DOMAIN

namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Sent {
    special_use = \Sent
  }
}

# room for 1000+ concurrent sessions (IMAP IDLE benches)
default_process_limit = 2100
default_client_limit = 10000
mail_max_userip_connections = 2000

# login processes in high-performance mode (one process serves many clients):
# the setting Dovecot's documentation recommends for busy servers, so the fair one.
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
service imap {
  process_limit = 2100
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = 10110
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
service pop3 {
  process_limit = 2100
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = 10024
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 2000
}
protocol pop3 {
  mail_max_userip_connections = 2000
  pop3_uidl_format = %08Xu%08Xv
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF
doveconf -c "$PEERS_DIR/etc/dovecot/dovecot.conf" -n >/dev/null   # syntax check

# ---------------------------------------------------------------- postfix
PF="$PEERS_DIR/etc/postfix"
for i in $(seq 1 "$NUSERS"); do echo "user$i@$DOMAIN OK"; done > "$PF/vmailbox"
echo "$SINK_DOMAIN discard:" > "$PF/transport"
cat > "$PF/main.cf" <<EOF
# Written by mailroom bench/peers/setup.sh. Start: postfix -c $PF start
compatibility_level = 3.6
queue_directory = $PEERS_DIR/postfix/spool
data_directory = $PEERS_DIR/postfix/data
myhostname = peers.$DOMAIN
mydomain = $DOMAIN
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
# the real delivery path: SMTP -> Postfix -> Dovecot LMTP -> Maildir
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:10024
# the raw acceptance path: anything @$SINK_DOMAIN is accepted, queued, discarded
relay_domains = $SINK_DOMAIN
transport_maps = texthash:$PF/transport
message_size_limit = 52428800
# no syslog on these machines: log to a file
maillog_file_prefixes = /var, /dev/stdout, $PEERS_DIR/log
maillog_file = $PEERS_DIR/log/postfix.log
smtputf8_enable = no
EOF
cat > "$PF/master.cf" <<'EOF'
# Written by mailroom bench/peers/setup.sh: only 127.0.0.1:10025 listens; no chroot.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:10025 inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
# Postfix utilities print errors only to a tty or syslog; `script` gives them a tty.
if ! postfix -c "$PF" check >/dev/null 2>&1; then
  script -qc "postfix -c '$PF' check" /dev/null; exit 1
fi

# ---------------------------------------------------------------- kernel limits
# 1000 IMAP IDLE sessions = 1000 inotify instances for Dovecot (the default is 128).
if [ -w /proc/sys/fs/inotify/max_user_instances ] && \
   [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 4096 ]; then
  sysctl -q -w fs.inotify.max_user_instances=4096 || true
fi

echo "setup.sh: peers configured under $PEERS_DIR ($NUSERS users, vmail uid=$VUID gid=$VGID)."
echo "start them with: node --import tsx bench/peers/peers.ts start"
