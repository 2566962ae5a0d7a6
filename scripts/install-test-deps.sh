#!/usr/bin/env bash
# What the test suite needs from the machine: real mail clients (swaks, curl,
# fetchmail, mutt, mbsync, getmail), Dovecot and Postfix as remote peers, and the
# PostgreSQL server on 127.0.0.1:5432 (user postgres, trust) for the PostgreSQL
# store. Idempotent: apt runs only when something is missing.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

PKGS=(swaks libnet-ssleay-perl curl iproute2 fetchmail mutt isync getmail6 openssl python3
      dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Postfix must not configure itself as the machine's MTA; tests and benches write their own config.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Start PostgreSQL if it is installed but not running.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then
  v=$(ls /etc/postgresql 2>/dev/null | head -1)
  if [ -n "$v" ] && command -v pg_ctlcluster >/dev/null; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  fi
fi
