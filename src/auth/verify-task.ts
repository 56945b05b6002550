/**
 * The CPU-heavy credential checks, run in a piscina thread so that a flood of logins never holds
 * a shard's event loop: bcrypt comparisons and Ed25519 nonce signatures.
 */
import bcrypt from 'bcryptjs';
import { decodePublicUserKey, KEY_PREFIX, verifyNonceSignature } from './nkey.js';
import { decodeJwt, signedBy } from './jwt.js';

export type VerifyTask =
  | { kind: 'bcrypt'; hash: string; password: string }
  | { kind: 'nonce-signature'; publicKey: Uint8Array; nonce: string; signature: string }
  | { kind: 'user-jwt'; token: string; issuer: string; userKey: string; nonce: string; signature: string; bearer: boolean };

export default function verifyCredential(task: VerifyTask): boolean {
  if (task.kind === 'bcrypt') return bcrypt.compareSync(task.password, task.hash);
  if (task.kind === 'nonce-signature') return verifyNonceSignature(task.publicKey, task.nonce, task.signature);
  // The account (or its signing key) signed the user JWT; the user's key signed the nonce.
  const jwt = decodeJwt(task.token);
  if (jwt === null || !signedBy(jwt, task.issuer, KEY_PREFIX.account)) return false;
  if (task.bearer) return true;
  const userKey = decodePublicUserKey(task.userKey);
  return userKey !== null && verifyNonceSignature(userKey, task.nonce, task.signature);
}
