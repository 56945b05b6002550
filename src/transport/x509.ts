/**
 * The parts of a DER certificate that verify_and_map and /connz read the way Go's crypto/x509
 * does: the subject's RDN sequence as encoded (order, multi-valued RDNs, every attribute), the
 * subject public key info, and the email, DNS and URI alternative names. Node's parsed
 * certificate groups repeated attributes and loses the order, so the DER is read here.
 */

/** One attribute of an RDN: its OID in dotted form and its value (null when it is not a string type). */
export interface AttributeValue {
  oid: string;
  value: string | null;
}

/** The subject as encoded: RDNs in certificate order (least specific first), each a set of attributes. */
export type RdnSequence = AttributeValue[][];

export interface CertificateFields {
  subject: RdnSequence;
  /** DER of SubjectPublicKeyInfo. */
  subjectPublicKeyInfo: Buffer;
  emails: string[];
  dnsNames: string[];
  uris: string[];
}

interface Tlv {
  tag: number;
  /** Where the element (its tag byte) starts. */
  at: number;
  /** Content bounds; the next element starts at `end`. */
  start: number;
  end: number;
}

function readTlv(der: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw new Error('bad DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new Error('truncated DER');
  return { tag, at, start, end };
}

/** The elements inside a constructed value. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const list: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    list.push(child);
    at = child.end;
  }
  return list;
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    else parts.push(value);
    value = 0;
  }
  return parts.join('.');
}

const SEQUENCE = 0x30;
const VERSION = 0xa0;
const EXTENSIONS = 0xa3;
/** The string types Go's encoding/asn1 decodes into a string (UniversalString is not one of them). */
const STRING_TAGS = new Set([0x0c, 0x12, 0x13, 0x14, 0x16]);
const BMP_STRING = 0x1e;
const SUBJECT_ALT_NAME = '2.5.29.17';
const SAN_EMAIL = 0x81;
const SAN_DNS = 0x82;
const SAN_URI = 0x86;

function decodeValue(der: Buffer, tlv: Tlv): string | null {
  const bytes = der.subarray(tlv.start, tlv.end);
  if (STRING_TAGS.has(tlv.tag)) return bytes.toString(tlv.tag === 0x0c ? 'utf8' : 'latin1');
  if (tlv.tag === BMP_STRING) return Buffer.from(bytes).swap16().toString('utf16le');
  return null;
}

function readName(der: Buffer, name: Tlv): RdnSequence {
  return children(der, name).map((set) =>
    children(der, set).map((pair) => {
      const [oid, value] = children(der, pair);
      return { oid: decodeOid(der.subarray(oid.start, oid.end)), value: decodeValue(der, value) };
    }),
  );
}

function readAltNames(der: Buffer, extensions: Tlv, fields: CertificateFields): void {
  for (const extension of children(der, children(der, extensions)[0])) {
    const parts = children(der, extension);
    if (decodeOid(der.subarray(parts[0].start, parts[0].end)) !== SUBJECT_ALT_NAME) continue;
    const octets = parts[parts.length - 1];
    const names = readTlv(der, octets.start, octets.end);
    for (const name of children(der, names)) {
      const text = der.toString('latin1', name.start, name.end);
      if (name.tag === SAN_EMAIL) fields.emails.push(text);
      else if (name.tag === SAN_DNS) fields.dnsNames.push(text);
      else if (name.tag === SAN_URI) fields.uris.push(text);
    }
  }
}

/** Reads a DER certificate; throws on malformed input. */
export function readCertificate(der: Buffer): CertificateFields {
  const certificate = readTlv(der, 0, der.length);
  const tbs = children(der, certificate)[0];
  const parts = children(der, tbs);
  // An explicit [0] version comes first in v2/v3 certificates.
  const base = parts[0].tag === VERSION ? 1 : 0;
  const subject = parts[base + 4];
  const spki = parts[base + 5];
  if (subject?.tag !== SEQUENCE || spki?.tag !== SEQUENCE) throw new Error('not a certificate');
  const fields: CertificateFields = {
    subject: readName(der, subject),
    subjectPublicKeyInfo: der.subarray(spki.at, spki.end),
    emails: [],
    dnsNames: [],
    uris: [],
  };
  const extensions = parts.slice(base + 6).find((part) => part.tag === EXTENSIONS);
  if (extensions !== undefined) readAltNames(der, extensions, fields);
  return fields;
}
