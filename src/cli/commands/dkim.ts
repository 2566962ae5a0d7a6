/**
 * `mailroom domain dkim DOMAIN`: the domain's DKIM key. Creates one if it has
 * none (kept in the store, private key sealed with the server's secret key)
 * and prints the TXT record to publish; with a key already there it prints
 * that key's record, and --new replaces it (publish the new record first: mail
 * signed with the new selector fails until it is in DNS).
 */
import type { Command } from 'commander';
import { dkimDnsRecord, generateDkimKey, keyFingerprint, loadDkimKey, saveDkimKey, type DkimAlgorithm } from '../../delivery/dkim.js';
import type { CliContext } from '../context.js';
import { normalizeDomain } from './accounts.js';

export function registerDkimCommands(program: Command, cli: CliContext): void {
  // `domain` belongs to the accounts commands; dkim joins it as one more sub-command.
  const domain = program.commands.find((c) => c.name() === 'domain') ?? program.command('domain').description('manage the domains this server receives mail for');
  domain
    .command('dkim <domain>')
    .description('create the DKIM key of a domain (if it has none) and print the DNS record to publish')
    .option('--new', 'replace the existing key with a new one')
    .option('--selector <name>', 'selector of a new key (default: mrYYYYMM)')
    .option('--algorithm <alg>', 'rsa (default, understood everywhere) or ed25519', 'rsa')
    .option('--bits <n>', 'RSA key size', '2048')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { new?: boolean; selector?: string; algorithm: string; bits: string }, cmd: Command) => {
      const d = normalizeDomain(cli, name);
      if (o.algorithm !== 'rsa' && o.algorithm !== 'ed25519') cli.fail(`--algorithm is rsa or ed25519, not "${o.algorithm}"`);
      const bits = Number(o.bits);
      if (!Number.isInteger(bits) || bits < 1024 || bits > 8192) cli.fail(`--bits is a whole number from 1024 to 8192, not "${o.bits}"`);
      const algorithm: DkimAlgorithm = o.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
      await cli.withStore(cmd, async (store, loaded) => {
        if (!(await store.getDomain(d))) cli.fail(`the domain ${d} is not hosted here; add it first with: mailroom domain add ${d}`);
        const secrets = await cli.secrets(loaded);
        let key = await loadDkimKey(store, secrets, d).catch(() => null);
        let created = false;
        if (!key || o.new) {
          try {
            key = generateDkimKey(d, { selector: o.selector, algorithm, bits });
          } catch (err) {
            cli.fail((err as Error).message);
          }
          await saveDkimKey(store, secrets, key);
          created = true;
        }
        const rec = dkimDnsRecord(key);
        if ((cmd.optsWithGlobals() as { json?: boolean }).json) {
          const out = { domain: d, selector: key.selector, algorithm: key.algorithm, created, createdAt: key.createdAt.toISOString(), name: rec.name, type: 'TXT', value: rec.value };
          process.stdout.write(JSON.stringify(out, null, 2) + '\n');
          return;
        }
        process.stdout.write(
          `${created ? 'created a new' : 'existing'} DKIM key for ${d}: ${key.algorithm}, selector ${key.selector}, ${keyFingerprint(key.publicKey)}\n` +
            `publish this TXT record in the DNS of ${d} (outgoing mail is signed with it from now on):\n\n` +
            `${rec.zoneLine}\n\n` +
            `name:  ${rec.name}\nvalue: ${rec.value}\n`,
        );
      });
    });
}
