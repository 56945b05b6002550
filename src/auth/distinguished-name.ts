/**
 * Distinguished names as nats-server 2.9 reads them for verify_and_map and shows them in /connz:
 * its LDAP DN parser and comparisons (internal/ldap: RFC 4514 parsing, attribute types compared
 * without case, values exactly; RDNs compared in order, or each found anywhere), and the two
 * strings Go's crypto/x509/pkix makes of a certificate subject.
 */
import type { AttributeValue, RdnSequence } from '../transport/x509.js';

export interface Attribute {
  type: string;
  value: string;
}

/** Most specific RDN first, as written in a DN string; each RDN a set of attributes. */
export type DistinguishedName = Attribute[][];

/** The attribute types nats-server's DN reader knows; a subject with any other is not read as a DN. */
const LDAP_TYPE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.17': 'POSTALCODE',
  '0.9.2342.19200300.100.1.25': 'DC',
};
const DOMAIN_COMPONENT = '0.9.2342.19200300.100.1.25';

/**
 * The certificate subject as a DN (ldap.FromRawCertSubject): RDNs and the attributes within each
 * reversed. Null when an attribute type is unknown or a value is not a string, as nats-server
 * then skips DN matching.
 */
export function subjectDn(subject: RdnSequence): DistinguishedName | null {
  const dn: DistinguishedName = [];
  for (let i = subject.length - 1; i >= 0; i--) {
    if (subject[i].length === 0) continue;
    const rdn: Attribute[] = [];
    for (let j = subject[i].length - 1; j >= 0; j--) {
      const { oid, value } = subject[i][j];
      const type = LDAP_TYPE_NAMES[oid];
      if (type === undefined || value === null) return null;
      rdn.push({ type, value });
    }
    dn.push(rdn);
  }
  return dn;
}

const BACKSLASH = 0x5c;
const SPACE = 0x20;
const ESCAPABLE = new Set([...' "#+,;<=>\\'].map((c) => c.charCodeAt(0)));

/**
 * A DN string (a configured user name) as nats-server's ldap.ParseDN reads it, with its quirks: a
 * value may escape a special character or give a byte in hex, unescaped spaces around types and
 * values are dropped, and a trailing attribute with an empty value is dropped with its RDN. Null
 * when it is not a DN (a plain user name).
 */
export function parseDn(text: string): DistinguishedName | null {
  const input = Buffer.from(text, 'utf8');
  const dn: DistinguishedName = [];
  let rdn: Attribute[] = [];
  let type = '';
  let buffer: number[] = [];
  let trailingSpaces = 0;
  let escaping = false;
  const take = (): string => {
    const value = Buffer.from(buffer.slice(0, buffer.length - trailingSpaces)).toString('utf8');
    buffer = [];
    trailingSpaces = 0;
    return value;
  };
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    const char = String.fromCharCode(byte);
    if (escaping) {
      trailingSpaces = 0;
      escaping = false;
      if (ESCAPABLE.has(byte)) {
        buffer.push(byte);
        continue;
      }
      const hex = input.toString('latin1', i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      buffer.push(parseInt(hex, 16));
      i++;
    } else if (byte === BACKSLASH) {
      trailingSpaces = 0;
      escaping = true;
    } else if (char === '=') {
      type = take();
      if (input[i + 1] === 0x23) return null; // '#': BER-encoded values are not supported
    } else if (char === ',' || char === '+') {
      if (type === '') return null;
      rdn.push({ type, value: take() });
      type = '';
      if (char === ',') {
        dn.push(rdn);
        rdn = [];
      }
    } else if (byte === SPACE && buffer.length === 0) {
      continue;
    } else {
      trailingSpaces = byte === SPACE ? trailingSpaces + 1 : 0;
      buffer.push(byte);
    }
  }
  if (buffer.length > 0) {
    if (type === '') return null;
    rdn.push({ type, value: take() });
    dn.push(rdn);
  }
  return dn;
}

function attributeEqual(a: Attribute, b: Attribute): boolean {
  return a.value === b.value && a.type.toUpperCase() === b.type.toUpperCase();
}

/** Every attribute of `a` is in `b` (nats-server's hasAllAttributes). */
function hasAll(a: readonly Attribute[], b: readonly Attribute[]): boolean {
  return b.every((attribute) => a.some((mine) => attributeEqual(mine, attribute)));
}

function rdnEqual(a: readonly Attribute[], b: readonly Attribute[]): boolean {
  return a.length === b.length && hasAll(a, b) && hasAll(b, a);
}

/** Same RDNs in the same order (RFC 4517 distinguishedNameMatch). */
export function dnEqual(a: DistinguishedName, b: DistinguishedName): boolean {
  return a.length === b.length && a.every((rdn, i) => rdnEqual(rdn, b[i]));
}

/** As many RDNs, each of `a` found somewhere in `b` (nats-server 2.9 does not count repeats). */
export function rdnsMatch(a: DistinguishedName, b: DistinguishedName): boolean {
  return a.length === b.length && a.every((rdn) => b.some((other) => rdnEqual(rdn, other)));
}

/** The types Go's pkix writes by name, in the order pkix.Name.ToRDNSequence puts them. */
const GO_FIELDS: readonly [oid: string, name: string][] = [
  ['2.5.4.6', 'C'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.7', 'L'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.17', 'POSTALCODE'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.3', 'CN'],
  ['2.5.4.5', 'SERIALNUMBER'],
];
const GO_NAMES = new Map(GO_FIELDS);
/** pkix.Name keeps one common name and one serial number: the last one. */
const SINGLE_VALUED = new Set(['2.5.4.3', '2.5.4.5']);

/**
 * pkix.Name.ToRDNSequence of the parsed subject: the known attributes regrouped in Go's order, one
 * RDN per type (several values of a type make one multi-valued RDN), other attributes left out.
 */
function goRdnSequence(subject: RdnSequence): AttributeValue[][] {
  const byType = new Map<string, string[]>();
  for (const rdn of subject) {
    for (const { oid, value } of rdn) {
      if (value === null || !GO_NAMES.has(oid)) continue;
      const values = SINGLE_VALUED.has(oid) ? [] : (byType.get(oid) ?? []);
      values.push(value);
      byType.set(oid, values);
    }
  }
  const sequence: AttributeValue[][] = [];
  for (const [oid] of GO_FIELDS) {
    const values = byType.get(oid);
    // An empty common name or serial number is no name at all (Go tests the string, not a list).
    if (values === undefined || (SINGLE_VALUED.has(oid) && values[0] === '')) continue;
    sequence.push(values.map((value) => ({ oid, value })));
  }
  return sequence;
}

/** Go's RDNSequence.String escaping: specials anywhere, a space at either end, '#' first. */
function goEscape(value: string): string {
  let out = '';
  for (let k = 0; k < value.length; k++) {
    const c = value[k];
    const escape = ',+"\\<>;'.includes(c) || (c === ' ' && (k === 0 || k === value.length - 1)) || (c === '#' && k === 0);
    out += escape ? `\\${c}` : c;
  }
  return out;
}

/** Go's asn1.Marshal of a string: PrintableString when every character allows it, else UTF8String. */
function goMarshalString(value: string): Buffer {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value);
  const body = Buffer.from(value, 'utf8');
  const length = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([printable ? 0x13 : 0x0c, ...length]), body]);
}

/** RDNSequence.String: the last RDN first, attributes of one RDN joined by '+'. */
function goSequenceString(sequence: readonly AttributeValue[][]): string {
  return sequence
    .slice()
    .reverse()
    .map((rdn) =>
      rdn
        .map(({ oid, value }) => {
          const name = GO_NAMES.get(oid);
          if (name !== undefined) return `${name}=${goEscape(value ?? '')}`;
          return value === null ? `${oid}=<nil>` : `${oid}=#${goMarshalString(value).toString('hex')}`;
        })
        .join('+'),
    )
    .join(',');
}

/** cert.Subject.ToRDNSequence().String(): the subject string verify_and_map looks up last. */
export function goSubjectString(subject: RdnSequence): string {
  return goSequenceString(goRdnSequence(subject));
}

/** cert.Subject.String(), as /connz shows it: attributes Go has no name for come last, as OID=#hex. */
export function goNameString(subject: RdnSequence): string {
  const others = subject.flat().filter(({ oid }) => !GO_NAMES.has(oid)).map((attribute) => [attribute]);
  return goSequenceString([...others, ...goRdnSequence(subject)]);
}

/** The domain components in certificate order, `DC=example,DC=org`; '' when there are none. */
export function domainComponents(subject: RdnSequence): string {
  return subject
    .flat()
    .filter(({ oid, value }) => oid === DOMAIN_COMPONENT && value !== null)
    .map(({ value }) => `DC=${value}`)
    .join(',');
}
