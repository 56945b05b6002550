/**
 * A throwaway PKI for TLS tests, made with the openssl command line in a temporary directory: a CA,
 * a server certificate for localhost/127.0.0.1, a client certificate signed by the CA, and one
 * signed by an unrelated CA (which a verifying server must refuse).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Subject /C=US/O=Natrium/OU=Test/CN=alice, email SAN alice@example.com. */
  clientCertFile: string;
  clientKeyFile: string;
  strangerCertFile: string;
  strangerKeyFile: string;
  /** Another client certificate signed by the CA (`-subj` syntax: `/DC=org/O=Acme+OU=Dev/CN=carol`). */
  issueClient(name: string, subject: string, san: string): { certFile: string; keyFile: string };
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, san: string, ca: string, extendedKeyUsage: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${extendedKeyUsage}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'natrium-pki-'));
  for (const ca of ['ca', 'stranger-ca']) {
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`]);
  }
  issue(dir, 'server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', 'ca', 'serverAuth');
  issue(dir, 'client', '/C=US/O=Natrium/OU=Test/CN=alice', 'email:alice@example.com', 'ca', 'clientAuth');
  issue(dir, 'stranger', '/CN=mallory', 'email:mallory@example.com', 'stranger-ca', 'clientAuth');
  const at = (file: string): string => join(dir, file);
  return {
    dir,
    caFile: at('ca.pem'),
    certFile: at('server.pem'),
    keyFile: at('server-key.pem'),
    clientCertFile: at('client.pem'),
    clientKeyFile: at('client-key.pem'),
    strangerCertFile: at('stranger.pem'),
    strangerKeyFile: at('stranger-key.pem'),
    issueClient: (name, subject, san) => {
      issue(dir, name, subject, san, 'ca', 'clientAuth');
      return { certFile: at(`${name}.pem`), keyFile: at(`${name}-key.pem`) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
