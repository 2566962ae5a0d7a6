import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, envOverrides, loadConfig } from './load.js';
import { configTemplate } from './template.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('config loading', () => {
  it('runs on defaults with no file, data in ./data of the working directory', () => {
    const loaded = loadConfig({ env: {}, cwd: dir });
    assert.equal(loaded.path, null);
    assert.equal(loaded.dataDir, join(dir, 'data'));
    assert.equal(loaded.config.smtp.port, 2525);
    assert.equal(loaded.config.submission.port, 2587);
    assert.equal(loaded.config.submission.tlsPort, 2465);
    assert.equal(loaded.config.pop3.port, 1110);
    assert.equal(loaded.config.imap.tlsPort, 1993);
    assert.equal(loaded.config.store.url, 'sqlite:mailroom.db');
  });

  it('reads snake_case keys and resolves data_dir against the file', () => {
    const p = write('a.toml', 'hostname = "mx.example.org"\ndata_dir = "var"\n[smtp]\nmax_message_size = 1000\n');
    const loaded = loadConfig({ path: p, env: {} });
    assert.equal(loaded.config.hostname, 'mx.example.org');
    assert.equal(loaded.config.smtp.maxMessageSize, 1000);
    assert.equal(loaded.dataDir, join(dir, 'var'));
    assert.equal(loaded.dataPath('x.db'), join(dir, 'var', 'x.db'));
  });

  it('names the key and the problem for a bad value', () => {
    const p = write('b.toml', '[smtp]\nport = "twenty-five"\n');
    assert.throws(() => loadConfig({ path: p, env: {} }), (e: Error) => e instanceof ConfigError && /smtp\.port/.test(e.message));
  });

  it('names an unknown key in the file spelling', () => {
    const p = write('c.toml', '[imap]\nmax_literall = 5\n');
    assert.throws(() => loadConfig({ path: p, env: {} }), (e: Error) => e instanceof ConfigError && /max_literall/.test(e.message) && /imap/.test(e.message));
  });

  it('reports TOML syntax errors with the file name', () => {
    const p = write('d.toml', 'hostname = \n');
    assert.throws(() => loadConfig({ path: p, env: {} }), (e: Error) => e instanceof ConfigError && e.message.includes('d.toml') && /TOML/.test(e.message));
  });

  it('refuses a --config path that does not exist', () => {
    assert.throws(() => loadConfig({ path: join(dir, 'nope.toml'), env: {} }), /does not exist/);
  });

  it('lets MAILROOM_* variables override the file', () => {
    const p = write('e.toml', '[smtp]\nport = 2525\n');
    const loaded = loadConfig({ path: p, env: { MAILROOM_SMTP__PORT: '25', MAILROOM_HOSTNAME: 'mx.example.net', MAILROOM_AUTH__MECHANISMS: '["PLAIN"]' } });
    assert.equal(loaded.config.smtp.port, 25);
    assert.equal(loaded.config.hostname, 'mx.example.net');
    assert.deepEqual(loaded.config.auth.mechanisms, ['PLAIN']);
    assert.deepEqual(envOverrides({ MAILROOM_QUEUE__SMARTHOST__HOST: 'relay.example' }), { queue: { smarthost: { host: 'relay.example' } } });
  });

  it('the template written by init is valid and matches the defaults', () => {
    const p = write('f.toml', configTemplate({ hostname: 'mail.example.org' }));
    const loaded = loadConfig({ path: p, env: {} });
    const defaults = loadConfig({ env: {}, cwd: dir }).config;
    assert.equal(loaded.config.hostname, 'mail.example.org');
    assert.deepEqual(loaded.config.queue, defaults.queue);
    assert.deepEqual(loaded.config.smtp, defaults.smtp);
    assert.deepEqual(loaded.config.imap, defaults.imap);
  });
});
