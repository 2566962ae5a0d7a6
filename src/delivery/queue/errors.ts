/**
 * The queue's own diagnostics, as SMTP-style replies with enhanced status codes
 * (RFC 3463) so they read like the remote ones in logs, `queue show` and DSNs.
 * Whatever failed without a classification is temporary: the queue keeps the
 * message and tries again (maddy's rule), it never bounces on its own doubt.
 */
export const queueReplies = {
  badRecipient: (address: string) => `553 5.1.3 Bad recipient address syntax: ${JSON.stringify(address).slice(0, 200)}`,
  badSender: (sender: string) => `553 5.1.7 Bad sender address syntax: ${JSON.stringify(sender).slice(0, 200)}`,
  localError: (what: string) => `451 4.3.0 Local error: ${what}`.slice(0, 500),
  /** An expired message bounces with its last reply, and says so. */
  expired: (lastReply: string, days: string) => `${lastReply} (gave up after ${days})`,
  bouncePending: (reply: string, err: string) => `${reply} (delivery status notification not yet sent: ${err})`.slice(0, 1000),
} as const;

/** Anything thrown inside an attempt that is not already a reply becomes a temporary local error. */
export function unexpectedReply(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return queueReplies.localError(msg.replace(/[\r\n]+/g, ' '));
}
