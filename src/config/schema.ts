/**
 * The configuration schema. The file (mailroom.toml) uses snake_case keys; they
 * are turned into the camelCase names below before validation (config/load.ts),
 * and validation errors are reported with the file's own key names.
 * Every key has a default, so an empty file (or no file) is a working server.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const listen = z.string().min(1);
const bytes = z.number().int().min(0);

/** A cron-style window ("* 8-18 * * 1-5" = weekdays 8:00-18:59) or "always". */
const schedule = z.string().min(1);

export const smarthostSchema = z
  .object({
    host: z.string().min(1),
    port: port.default(587),
    /** "starttls" (required), "implicit" (TLS from the start), "opportunistic", "none". */
    tls: z.enum(['starttls', 'implicit', 'opportunistic', 'none']).default('starttls'),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Only mail to these domains goes through this host (empty: all outbound mail). */
    domains: z.array(z.string()).default([]),
    /** Accept the relay's certificate without checking it (a self-signed provider relay). */
    insecure: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    /** The name this server greets with and signs Received lines with. */
    hostname: z.string().min(1).default('localhost'),
    /** Where the store, blobs, keys and certificates live (relative to the config file). */
    dataDir: z.string().min(1).default('./data'),
    /** Worker processes sharing the listeners; 0 = one per CPU core, 1 = no cluster. */
    workers: z.number().int().min(0).max(256).default(0),
    /** File holding the key that seals secrets at rest (fetch passwords); created by init. */
    secretKeyFile: z.string().default('secret.key'),
    /** Where the web admin/TLS should tell users to connect (autoconfig). */
    publicHostname: z.string().optional(),

    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Write to this file instead of stdout. */
        file: z.string().optional(),
      })
      .strict()
      .prefault({}),

    store: z
      .object({
        /** "sqlite:PATH" (relative to data_dir) or "postgres://user@host:port/db". */
        url: z.string().min(1).default('sqlite:mailroom.db'),
        /** "dir" (files under blob_dir) or "postgres" (in the database; for several nodes). */
        blobs: z.enum(['dir', 'postgres']).default('dir'),
        blobDir: z.string().default('blobs'),
      })
      .strict()
      .prefault({}),

    tls: z
      .object({
        /** PEM files (relative to data_dir); init makes a self-signed pair. */
        cert: z.string().default('tls/cert.pem'),
        key: z.string().default('tls/key.pem'),
        minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      })
      .strict()
      .prefault({}),

    auth: z
      .object({
        /** SASL mechanisms offered; CRAM-MD5 and APOP need a password-equivalent kept sealed. */
        mechanisms: z.array(z.enum(['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256'])).default(['PLAIN', 'LOGIN']),
        /** Plaintext logins without TLS: "never", "loopback" (clients on 127.0.0.0/8, ::1), "always". */
        plaintext: z.enum(['never', 'loopback', 'always']).default('loopback'),
        /** Failures from one IP before its logins are delayed, then refused. */
        maxFailuresPerIp: z.number().int().min(1).default(10),
        /** Failures on one account before it is delayed, then refused. */
        maxFailuresPerAccount: z.number().int().min(1).default(5),
        /** Seconds a throttled IP/account waits; doubles per further failure, up to lockout. */
        throttleSeconds: z.number().min(0).default(2),
        lockoutSeconds: z.number().min(0).default(900),
      })
      .strict()
      .prefault({}),

    smtp: z
      .object({
        enabled: z.boolean().default(true),
        listen: listen.default('127.0.0.1'),
        port: port.default(2525),
        banner: z.string().optional(),
        maxMessageSize: bytes.default(50 * 1024 * 1024),
        maxRecipients: z.number().int().min(1).default(100),
        maxConnectionsPerIp: z.number().int().min(1).default(20),
        /** Messages accepted per IP per minute (0 = no limit). */
        maxMessagesPerMinutePerIp: z.number().int().min(0).default(0),
        /** Unrecognised or failed commands before the connection is closed. */
        maxBadCommands: z.number().int().min(1).default(10),
        /** Sub-address separator: user+tag@domain reaches user@domain ("" = off). */
        subaddressSeparator: z.string().max(1).default('+'),
        /** Check SPF/DKIM/DMARC/ARC of inbound mail and add Authentication-Results. */
        authenticate: z.boolean().default(true),
        /** Refuse mail failing DMARC whose domain publishes p=reject. */
        dmarcReject: z.boolean().default(false),
        /** DNS servers for SPF/DKIM/MX lookups ("ip" or "ip:port"); empty = system resolver. */
        dnsServers: z.array(z.string()).default([]),
        /** Seconds of silence before the connection is closed. */
        timeout: z.number().min(1).default(300),
        /** Commands a submission client may send before it has authenticated. */
        maxUnauthenticatedCommands: z.number().int().min(1).default(10),
        /** Seconds the access/relay rules and domain list are cached per process (0 = ask the store every time). */
        policyCacheSeconds: z.number().min(0).default(5),
      })
      .strict()
      .prefault({}),

    submission: z
      .object({
        enabled: z.boolean().default(true),
        listen: listen.default('127.0.0.1'),
        /** STARTTLS port (587 in production). */
        port: port.default(2587),
        /** Implicit TLS port (465 in production). Turn submission off with enabled = false. */
        tlsPort: port.default(2465),
        /** An authenticated user may send only as one of their own addresses. */
        enforceSender: z.boolean().default(true),
      })
      .strict()
      .prefault({}),

    relay: z
      .object({
        /** Who may relay to non-local recipients (rules in the store add trusted hosts, domains, addresses). */
        authenticated: z.boolean().default(true),
      })
      .strict()
      .prefault({}),

    queue: z
      .object({
        enabled: z.boolean().default(true),
        /** Seconds between attempts, the last repeated; e.g. 1m, 5m, 15m, 30m, 1h. */
        retrySchedule: z.array(z.number().int().min(1)).default([60, 300, 900, 1800, 3600]),
        /** Give up and bounce after this many seconds (5 days). */
        maxAge: z.number().int().min(1).default(5 * 86400),
        /** Warn the sender after this many seconds of delay (0 = never). */
        warnAfter: z.number().int().min(0).default(4 * 3600),
        connectionsPerHost: z.number().int().min(1).default(5),
        messagesPerConnection: z.number().int().min(1).default(100),
        /** Concurrent deliveries overall. */
        concurrency: z.number().int().min(1).default(20),
        /** Outbound delivery only while this schedule is open ("always", or cron fields). */
        window: schedule.default('always'),
        /** Port remote MX hosts are contacted on (25; tests use others). */
        remotePort: port.default(25),
        /** Seconds to wait for a remote reply. */
        timeout: z.number().min(1).default(300),
        smarthost: smarthostSchema.optional(),
        /** Per-domain smarthosts. */
        smarthosts: z.array(smarthostSchema).default([]),
        /** Sign outgoing mail with the domain's DKIM key when it has one. */
        dkimSign: z.boolean().default(true),
      })
      .strict()
      .prefault({}),

    pop3: z
      .object({
        enabled: z.boolean().default(true),
        listen: listen.default('127.0.0.1'),
        port: port.default(1110),
        tlsPort: port.default(1995),
        /** Delete messages a client retrieved after this many days (0 = never); advertised as EXPIRE. */
        retentionDays: z.number().int().min(0).default(0),
        /** Minimum seconds between logins, advertised as LOGIN-DELAY (0 = none). */
        loginDelay: z.number().int().min(0).default(0),
        apop: z.boolean().default(false),
        timeout: z.number().min(1).default(600),
      })
      .strict()
      .prefault({}),

    imap: z
      .object({
        enabled: z.boolean().default(true),
        listen: listen.default('127.0.0.1'),
        port: port.default(1143),
        tlsPort: port.default(1993),
        /** Largest literal (and APPEND) accepted, bytes. */
        maxLiteral: bytes.default(50 * 1024 * 1024),
        /** Seconds before an idle authenticated session is closed (RFC 3501: at least 30 min). */
        timeout: z.number().min(1).default(1800),
      })
      .strict()
      .prefault({}),

    fetch: z
      .object({
        enabled: z.boolean().default(true),
        /** Concurrent polls. */
        concurrency: z.number().int().min(1).default(4),
        /** Seconds without an answer from a remote mailbox before the poll fails (retried next interval). */
        timeout: z.number().min(1).default(60),
        /** PEM file of extra CA certificates trusted for remote mailboxes (absolute, or relative to the working directory). */
        caFile: z.string().optional(),
        /** Remote hosts whose TLS certificate is not verified (a provider with a self-signed certificate). */
        insecureHosts: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),

    web: z
      .object({
        enabled: z.boolean().default(false),
        listen: listen.default('127.0.0.1'),
        port: port.default(8080),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SmarthostConfig = z.infer<typeof smarthostSchema>;
