#!/usr/bin/env bash
# Debian packages the test suite uses: real mail clients, and Dovecot/Postfix as
# remote peers. Idempotent; skips apt when everything is already there.
set -euo pipefail
PKGS=(swaks libnet-ssleay-perl curl fetchmail mutt isync getmail6 openssl python3 dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure itself as the machine's MTA; bench/peers writes its own config.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
