import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseFlags } from '../../src/config/flags.js';
import { DEFAULT_OPTIONS } from '../../src/server/options.js';
import { checkTransports } from '../../src/transport/check.js';
import { createTestPki, type TestPki } from '../helpers/certs.js';
import { confReader } from '../helpers/conf.js';

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

const { load, problems } = confReader('n.conf');

test('tls block: files, verify, timeout in seconds or as a duration', () => {
  const { options } = load(`tls {\n  cert_file: "${pki.certFile}"\n  key_file: "${pki.keyFile}"\n  ca_file: "${pki.caFile}"\n  verify: true\n  timeout: 0.5\n}`);
  assert.deepEqual(options.tls, { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, verify: true, verifyAndMap: false, timeout: 500 });
  const plain = load(`tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", timeout: "3s" }`).options.tls;
  assert.deepEqual(plain, { certFile: pki.certFile, keyFile: pki.keyFile, caFile: null, verify: false, verifyAndMap: false, timeout: 3000 });
  assert.equal(load(`tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}" }`).options.tls?.timeout, 2000);
});

test('tls block: nats-server messages for missing or unreadable files, refused keys named', () => {
  assert.deepEqual(problems(`tls { cert_file: "${pki.certFile}" }`), [`n.conf:1:1: missing 'key_file' in TLS configuration`]);
  assert.deepEqual(problems(`tls { key_file: "${pki.keyFile}" }`), [`n.conf:1:1: missing 'cert_file' in TLS configuration`]);
  assert.deepEqual(problems(`tls { cert_file: "/nonexistent.pem", key_file: "${pki.keyFile}" }`), [
    'n.conf:1:1: error parsing X509 certificate/key pair: open /nonexistent.pem: no such file or directory',
  ]);
  // A certificate with someone else's key is not a pair.
  assert.match(problems(`tls { cert_file: "${pki.certFile}", key_file: "${pki.clientKeyFile}" }`)[0], /^n\.conf:1:1: error parsing X509 certificate\/key pair: /);
  const at = `tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", `.length + 1;
  assert.deepEqual(problems(`tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", cipher_suites: ["x"] }`), [
    `n.conf:1:${at}: "cipher_suites" in a TLS configuration is not supported by natrium yet`,
  ]);
  assert.deepEqual(problems(`tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", bogus: 1 }`), [
    `n.conf:1:${at}: error parsing tls config, unknown field "bogus"`,
  ]);
  assert.equal(load(`tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", verify_and_map: true }`).options.tls?.verifyAndMap, true);
  assert.match(
    problems(`websocket { port: 8443, tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", verify_and_map: true } }`)[0],
    /"verify_and_map" in the websocket TLS configuration is not supported by natrium yet/,
  );
  assert.deepEqual(problems('tls: 1'), ['n.conf:1:1: "tls" expects a map, got integer']);
});

test('websocket block: listen or port, no_tls, compression, tls; refusals as nats-server', () => {
  const ws = load('websocket { listen: "127.0.0.1:-1", no_tls: true, compression: true, handshake_timeout: "5s" }').options.websocket;
  assert.deepEqual(ws, { host: '127.0.0.1', port: -1, noTls: true, tls: null, compression: true, handshakeTimeout: 5000 });
  const secure = load(`ws { port: 8443, tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}" } }`).options.websocket;
  assert.equal(secure?.port, 8443);
  assert.equal(secure?.tls?.certFile, pki.certFile);
  assert.deepEqual(problems('websocket { port: 8080 }'), ['n.conf:1:1: websocket requires TLS configuration']);
  assert.deepEqual(problems('websocket { port: 8080, no_tls: true, foo: 1 }'), ['n.conf:1:39: unknown field "foo"']);
  assert.deepEqual(problems('websocket { port: 8080, no_tls: true, same_origin: true }'), ['n.conf:1:39: "websocket.same_origin" is not supported by natrium yet']);
  // Port 0 leaves websocket off, as in nats-server.
  assert.equal(load('websocket { port: 0, no_tls: true }').options.websocket, undefined);
});

test('TLS flags: --tls with cert and key, --tlsverify implies TLS; missing files named', () => {
  const run = parseFlags(['--tls', '--tlscert', pki.certFile, '--tlskey', pki.keyFile]);
  assert.equal(run.kind, 'run');
  if (run.kind !== 'run') return;
  assert.deepEqual(run.options.tls, { certFile: pki.certFile, keyFile: pki.keyFile, caFile: null, verify: false, verifyAndMap: false, timeout: 2000 });
  const verify = parseFlags(['--tlsverify', '--tlscert', pki.certFile, '--tlskey', pki.keyFile, '--tlscacert', pki.caFile]);
  assert.ok(verify.kind === 'run' && verify.options.tls?.verify === true && verify.options.tls.caFile === pki.caFile);
  assert.throws(() => parseFlags(['--tls']), /TLS Server certificate must be present and valid/);
  assert.throws(() => parseFlags(['--tls', '--tlscert', pki.certFile]), /TLS Server private key must be present and valid/);
  assert.throws(() => parseFlags(['--tlscert', pki.certFile, '--tlskey', pki.keyFile]), /need --tls or --tlsverify/);
});

test('embedding: startup checks refuse a websocket without TLS and unreadable certificates', () => {
  assert.throws(() => checkTransports({ ...DEFAULT_OPTIONS, websocket: { host: '', port: -1, noTls: false, tls: null, compression: false, handshakeTimeout: 2000 } }), /websocket requires TLS configuration/);
  const tlsConfig = { certFile: '/nonexistent.pem', keyFile: pki.keyFile, caFile: null, verify: false, verifyAndMap: false, timeout: 2000 };
  assert.throws(() => checkTransports({ ...DEFAULT_OPTIONS, tls: tlsConfig }), /open \/nonexistent\.pem: no such file or directory/);
  checkTransports({ ...DEFAULT_OPTIONS, tls: { ...tlsConfig, certFile: pki.certFile } });
});
