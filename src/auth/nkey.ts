/**
 * NKeys (nats.io): Ed25519 keys written as base32 text with a one-letter role prefix and a
 * CRC-16 checksum. Natrium only needs to read public user keys ('U...') and verify signatures.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Prefix byte of a public user key: 20 << 3 renders as 'U'. */
const PREFIX_USER = 20 << 3;
const ED25519_KEY_LENGTH = 32;
/** DER header of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function base32Decode(text: string): Buffer | null {
  const out = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = BASE32.indexOf(text[i]);
    if (digit < 0) return null;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** CRC-16/XMODEM (polynomial 0x1021, initial 0), as NKeys checksum their bytes. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i] << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Prefix bytes of public keys by role letter: operator 'O', account 'A', user 'U'. */
export const KEY_PREFIX = { operator: 14 << 3, account: 0, user: PREFIX_USER } as const;

/** The 32 raw Ed25519 bytes of a public user NKey, or null if it is not one (prefix, length, checksum). */
export function decodePublicUserKey(nkey: string): Buffer | null {
  return decodePublicKey(nkey, PREFIX_USER);
}

/** The 32 raw Ed25519 bytes of a public NKey with this role prefix, or null. */
export function decodePublicKey(nkey: string, prefix: number): Buffer | null {
  const raw = base32Decode(nkey);
  if (raw === null || raw.length !== 1 + ED25519_KEY_LENGTH + 2 || raw[0] !== prefix) return null;
  const body = raw.subarray(0, raw.length - 2);
  if (crc16(body) !== raw.readUInt16LE(raw.length - 2)) return null;
  return Buffer.from(raw.subarray(1, 1 + ED25519_KEY_LENGTH));
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * Verifies a client's signature of the nonce: `signature` is base64 (URL-safe or standard, with or
 * without padding, as clients send it) of an Ed25519 signature over the nonce's ASCII bytes.
 */
export function verifyNonceSignature(publicKey: Uint8Array, nonce: string, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) return false;
  try {
    return verify(null, Buffer.from(nonce, 'latin1'), ed25519PublicKey(publicKey), sig);
  } catch {
    return false;
  }
}
