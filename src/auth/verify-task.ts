/**
 * The CPU-heavy credential checks, run in a piscina thread so that a flood of logins never holds
 * a shard's event loop: bcrypt comparisons and Ed25519 nonce signatures.
 */
import bcrypt from 'bcryptjs';
import { verifyNonceSignature } from './nkey.js';

export type VerifyTask =
  | { kind: 'bcrypt'; hash: string; password: string }
  | { kind: 'nonce-signature'; publicKey: Uint8Array; nonce: string; signature: string };

export default function verifyCredential(task: VerifyTask): boolean {
  if (task.kind === 'bcrypt') return bcrypt.compareSync(task.password, task.hash);
  return verifyNonceSignature(task.publicKey, task.nonce, task.signature);
}
