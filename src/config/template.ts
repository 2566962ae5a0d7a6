/** The commented mailroom.toml that `mailroom init` writes. Every key shown is the default. */
export function configTemplate(opts: { hostname: string }): string {
  return `# mailroom configuration. Every key has a default; delete what you do not change.
# Keys use snake_case. MAILROOM_<SECTION>__<KEY> environment variables override them
# (e.g. MAILROOM_SMTP__PORT=25). Domains, users, aliases, relay and access rules live
# in the store: manage them with "mailroom domain|user|alias|relay|access ...".
# Reference: docs/configuration.md

# The name this server greets with and puts in Received: lines.
hostname = "${opts.hostname}"
# Store, blobs, certificate and keys live here (relative to this file).
data_dir = "data"
# Worker processes sharing the listeners: 0 = one per CPU core, 1 = a single process.
workers = 0

[log]
level = "info"            # fatal, error, warn, info, debug, trace, silent
# file = "mailroom.log"   # relative to data_dir; default: standard output

[store]
# "sqlite:PATH" (relative to data_dir), or "postgres://user@host:5432/mailroom" for several nodes.
url = "sqlite:mailroom.db"
blobs = "dir"             # "dir" (files under blob_dir) or "postgres" (in the database)
blob_dir = "blobs"

[tls]
# PEM files, relative to data_dir. init made a self-signed pair; replace it with a real one.
cert = "tls/cert.pem"
key = "tls/key.pem"

[auth]
mechanisms = ["PLAIN", "LOGIN"]   # add "CRAM-MD5" or "SCRAM-SHA-256" if your clients need them
plaintext = "loopback"            # plaintext logins without TLS: "never", "loopback" or "always"
max_failures_per_ip = 10
max_failures_per_account = 5

# Listeners below use unprivileged ports; in production use 25, 587, 465, 110, 995, 143, 993
# and listen on "0.0.0.0" (or "::").
[smtp]                    # MX: mail from the Internet for our domains
listen = "127.0.0.1"
port = 2525
max_message_size = 52428800
max_recipients = 100
subaddress_separator = "+"
dmarc_reject = false

[submission]              # mail from our users (authentication required)
listen = "127.0.0.1"
port = 2587               # STARTTLS
tls_port = 2465           # implicit TLS
enforce_sender = true     # users may send only as their own addresses

[queue]
retry_schedule = [60, 300, 900, 1800, 3600]   # seconds; the last repeats
max_age = 432000          # bounce after 5 days
warn_after = 14400        # warn the sender after 4 hours
connections_per_host = 5
window = "always"         # or cron fields, e.g. "* 8-18 * * 1-5"
# [queue.smarthost]       # send everything through your provider
# host = "smtp.provider.example"
# port = 587
# tls = "starttls"
# username = "office@example.org"
# password = "..."

[pop3]
listen = "127.0.0.1"
port = 1110
tls_port = 1995
retention_days = 0        # delete retrieved messages after N days (0 = never)

[imap]
listen = "127.0.0.1"
port = 1143
tls_port = 1993

[fetch]
enabled = true
`;
}
