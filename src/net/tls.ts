/**
 * TLS material: a self-signed certificate for first runs (init, or start with no
 * certificate yet), and loading the configured PEM pair into a context that
 * every listener (STARTTLS and implicit TLS) shares.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { generate } from 'selfsigned';

export async function generateSelfSigned(hostname: string): Promise<{ cert: string; key: string }> {
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 5);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    // RSA: selfsigned's EC path fails on this Node build ("Cannot get schema for
    // AlgorithmIdentifier"), and RSA is what every mail client accepts anyway.
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Write a self-signed pair to the paths unless a certificate is already there. Returns true if written. */
export async function ensureCertificate(certPath: string, keyPath: string, hostname: string): Promise<boolean> {
  if (existsSync(certPath) && existsSync(keyPath)) return false;
  const { cert, key } = await generateSelfSigned(hostname);
  mkdirSync(dirname(certPath), { recursive: true });
  mkdirSync(dirname(keyPath), { recursive: true });
  writeFileSync(keyPath, key, { mode: 0o600 });
  writeFileSync(certPath, cert, { mode: 0o644 });
  return true;
}

export function loadTlsOptions(certPath: string, keyPath: string, minVersion: 'TLSv1.2' | 'TLSv1.3'): SecureContextOptions {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, 'utf8');
    key = readFileSync(keyPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the TLS certificate or key (${(err as Error).message}); set tls.cert and tls.key, or run "mailroom init"`);
  }
  return { cert, key, minVersion };
}
