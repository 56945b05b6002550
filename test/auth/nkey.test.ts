/** NKey decoding and nonce signatures against keys made by the nkeys library nats clients use. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nkeys } from 'nats';
import { decodePublicUserKey, verifyNonceSignature } from '../../src/auth/nkey.js';
import verifyCredential from '../../src/auth/verify-task.js';
import bcrypt from 'bcryptjs';

test('public user keys decode to their 32 raw bytes; other roles, bad checksums and garbage do not', () => {
  const user = nkeys.createUser();
  const raw = decodePublicUserKey(user.getPublicKey());
  assert.equal(raw?.length, 32);
  assert.equal(decodePublicUserKey(nkeys.createAccount().getPublicKey()), null);
  const key = user.getPublicKey();
  const flipped = key.slice(0, 10) + (key[10] === 'A' ? 'B' : 'A') + key.slice(11);
  assert.equal(decodePublicUserKey(flipped), null);
  assert.equal(decodePublicUserKey('UABC'), null);
  assert.equal(decodePublicUserKey('u' + key.slice(1)), null);
});

test('nonce signatures: right key and nonce pass; another nonce, key or a mangled signature fail', () => {
  const user = nkeys.createUser();
  const raw = decodePublicUserKey(user.getPublicKey())!;
  const nonce = 'jCEfihoos834GV8';
  const sig = Buffer.from(user.sign(Buffer.from(nonce))).toString('base64url');
  assert.equal(verifyNonceSignature(raw, nonce, sig), true);
  // Standard base64 with padding is accepted too, as nats-server falls back to it.
  assert.equal(verifyNonceSignature(raw, nonce, Buffer.from(sig, 'base64url').toString('base64')), true);
  assert.equal(verifyNonceSignature(raw, 'another-nonce00', sig), false);
  assert.equal(verifyNonceSignature(decodePublicUserKey(nkeys.createUser().getPublicKey())!, nonce, sig), false);
  assert.equal(verifyNonceSignature(raw, nonce, sig.slice(0, -4) + 'AAAA'), false);
  assert.equal(verifyNonceSignature(raw, nonce, 'short'), false);
});

test('the pool task checks bcrypt hashes and signatures', () => {
  const hash = bcrypt.hashSync('pw', 4);
  assert.equal(verifyCredential({ kind: 'bcrypt', hash, password: 'pw' }), true);
  assert.equal(verifyCredential({ kind: 'bcrypt', hash, password: 'px' }), false);
  const user = nkeys.createUser();
  const sig = Buffer.from(user.sign(Buffer.from('n'))).toString('base64url');
  assert.equal(verifyCredential({ kind: 'nonce-signature', publicKey: decodePublicUserKey(user.getPublicKey())!, nonce: 'n', signature: sig }), true);
});
