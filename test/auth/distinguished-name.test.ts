/**
 * Certificate subjects and DN strings read as nats-server 2.9 reads them. The expected strings are
 * what nats-server 2.9.10 showed for the same openssl certificates (/connz tls_peer_certs) and the
 * user names it mapped them to with verify_and_map.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { dnEqual, domainComponents, goNameString, goSubjectString, parseDn, rdnsMatch, subjectDn } from '../../src/auth/distinguished-name.js';
import { readCertificate } from '../../src/transport/x509.js';
import { createTestPki, type TestPki } from '../helpers/certs.js';

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

function certificateOf(certFile: string) {
  return readCertificate(new X509Certificate(readFileSync(certFile)).raw);
}

test('a certificate: its alternative names and the subject as Go writes it', () => {
  const alice = certificateOf(pki.clientCertFile);
  assert.deepEqual([alice.emails, alice.dnsNames, alice.uris], [['alice@example.com'], [], []]);
  assert.equal(goSubjectString(alice.subject), 'CN=alice,OU=Test,O=Natrium,C=US');
  assert.equal(goNameString(alice.subject), 'CN=alice,OU=Test,O=Natrium,C=US');
  assert.equal(domainComponents(alice.subject), '');
  const x509 = new X509Certificate(readFileSync(pki.clientCertFile));
  assert.ok(alice.subjectPublicKeyInfo.equals(x509.publicKey.export({ type: 'spki', format: 'der' })));

  const carol = certificateOf(pki.issueClient('carol', '/DC=org/DC=example/O=Acme+OU=Dev/CN=carol', 'DNS:carol.example,URI:spiffe://acme/carol').certFile);
  assert.deepEqual([carol.emails, carol.dnsNames, carol.uris], [[], ['carol.example'], ['spiffe://acme/carol']]);
  assert.equal(goSubjectString(carol.subject), 'CN=carol,OU=Dev,O=Acme');
  assert.equal(goNameString(carol.subject), 'CN=carol,OU=Dev,O=Acme,0.9.2342.19200300.100.1.25=#13076578616d706c65,0.9.2342.19200300.100.1.25=#13036f7267');
  assert.equal(domainComponents(carol.subject), 'DC=org,DC=example');
  assert.ok(dnEqual(subjectDn(carol.subject)!, parseDn('CN=carol,OU=Dev+O=Acme,DC=example,DC=org')!));

  // Repeated types regroup (the last CN wins), unnamed types come last as OID=#DER, escapes as Go's.
  const eve = certificateOf(pki.issueClient('eve', '/emailAddress=e@x.org/CN=eve+OU=a b/O=Ac\\,me/OU=z/CN=eve2/serialNumber=42/L=*&x', 'DNS:e.example').certFile);
  assert.equal(goNameString(eve.subject), 'SERIALNUMBER=42,CN=eve2,OU=a b+OU=z,O=Ac\\,me,L=*&x,1.2.840.113549.1.9.1=#0c076540782e6f7267');
  assert.equal(goSubjectString(eve.subject), 'SERIALNUMBER=42,CN=eve2,OU=a b+OU=z,O=Ac\\,me,L=*&x');
  assert.equal(subjectDn(eve.subject), null, 'emailAddress is not a type nats-server reads as a DN');
});

test('parseDn follows nats-server\'s ldap.ParseDN', () => {
  const dn = (text: string) => parseDn(text)?.map((rdn) => rdn.map(({ type, value }) => `${type}=${value}`).join('+'));
  assert.deepEqual(dn('CN=alice, ou=Test ,O=Natrium,C=US'), ['CN=alice', 'ou=Test', 'O=Natrium', 'C=US']);
  assert.deepEqual(dn('CN=x+OU=y,O=z'), ['CN=x+OU=y', 'O=z']);
  assert.deepEqual(dn('CN=a\\,b\\2bc'), ['CN=a,b+c']);
  assert.deepEqual(dn('CN=\\ lead,O=trail\\ '), ['CN= lead', 'O=trail ']);
  assert.deepEqual(dn('CN=caf\\c3\\a9'), ['CN=café']);
  assert.deepEqual(dn('CN=a,OU='), ['CN=a'], 'a trailing empty value is dropped');
  assert.deepEqual(dn(''), []);
  for (const notDn of ['alice', 'alice@example.com', ',CN=a', 'CN=#0403', 'CN=\\zz']) assert.equal(parseDn(notDn), null, notDn);
});

test('DN comparisons: types without case, values exactly; RDNs in order, or each found anywhere', () => {
  const a = parseDn('CN=x,OU=Dev+O=Acme,C=US')!;
  assert.ok(dnEqual(a, parseDn('cn=x,o=Acme+ou=Dev,c=US')!));
  assert.ok(!dnEqual(a, parseDn('CN=X,OU=Dev+O=Acme,C=US')!));
  assert.ok(!dnEqual(a, parseDn('C=US,OU=Dev+O=Acme,CN=x')!));
  assert.ok(rdnsMatch(a, parseDn('C=US,OU=Dev+O=Acme,CN=x')!));
  assert.ok(!rdnsMatch(a, parseDn('C=US,OU=Dev,O=Acme,CN=x')!), 'a multi-valued RDN is one RDN');
  // As in nats-server 2.9, a repeated RDN is not counted.
  assert.ok(rdnsMatch(parseDn('CN=x,OU=a,OU=a')!, parseDn('OU=a,OU=b,CN=x')!));
});
