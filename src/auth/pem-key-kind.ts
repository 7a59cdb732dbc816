/**
 * Reads just enough of a PEM public key (SPKI) or X.509 certificate to tell what kind of key it
 * holds, so the allow-list of algorithms can be checked at config time, synchronously, on any
 * runtime. No node:crypto: a tiny DER walker over the base64 body.
 */
import type { KeyKind } from "./algorithms.js";

/** What a PEM block holds, as far as verification cares. */
export interface PemKeyInfo {
  /** `spki` for `PUBLIC KEY`, `x509` for `CERTIFICATE`. */
  readonly format: "spki" | "x509";
  readonly kind: KeyKind;
}

const OID_KIND: ReadonlyMap<string, KeyKind | "ec"> = new Map([
  ["2a864886f70d010101", "rsa"], // 1.2.840.113549.1.1.1 rsaEncryption
  ["2a8648ce3d0201", "ec"], // 1.2.840.10045.2.1 id-ecPublicKey
  ["2b6570", "ed25519"], // 1.3.101.112 id-Ed25519
]);
const CURVE_KIND: ReadonlyMap<string, KeyKind> = new Map([
  ["2a8648ce3d030107", "ec-p256"], // 1.2.840.10045.3.1.7 prime256v1
  ["2b81040022", "ec-p384"], // 1.3.132.0.34 secp384r1
  ["2b81040023", "ec-p521"], // 1.3.132.0.35 secp521r1
]);
const OID_NAMES: ReadonlyMap<string, string> = new Map([
  ["2a864886f70d01010a", "RSASSA-PSS (use an rsaEncryption SPKI instead)"],
  ["2b6571", "Ed448"],
  ["2b656e", "X25519"],
  ["2b656f", "X448"],
]);

/**
 * Identifies the key in a PEM `PUBLIC KEY` or `CERTIFICATE` block.
 * Throws an Error with a clear message (never the key itself) when it is anything else.
 */
export function pemKeyInfo(pem: string): PemKeyInfo {
  const m = /^\s*-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]+?)-----END \1-----\s*$/.exec(pem);
  if (!m) throw new Error("not a PEM block (expected -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)");
  const label = m[1]!;
  if (label.includes("PRIVATE")) throw new Error(`a ${label} was given where a public key belongs; configure the public key (SPKI)`);
  if (label !== "PUBLIC KEY" && label !== "CERTIFICATE") {
    throw new Error(`PEM "${label}" is not supported; use "PUBLIC KEY" (SPKI) or "CERTIFICATE"`);
  }
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(m[2]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    throw new Error("PEM body is not valid base64");
  }
  try {
    if (label === "PUBLIC KEY") return { format: "spki", kind: spkiKind(der, 0) };
    return { format: "x509", kind: spkiKind(der, certificateSpkiOffset(der)) };
  } catch (e) {
    if (e instanceof DerError) throw new Error(`PEM ${label} is not valid DER`);
    throw e;
  }
}

class DerError extends Error {}

interface Tlv {
  tag: number;
  /** offset of the content */
  start: number;
  /** offset just past the content */
  end: number;
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new DerError();
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) throw new DerError();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError();
  return { tag, start, end };
}

function hex(der: Uint8Array, t: Tlv): string {
  let s = "";
  for (let i = t.start; i < t.end; i++) s += der[i]!.toString(16).padStart(2, "0");
  return s;
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING } */
function spkiKind(der: Uint8Array, at: number): KeyKind {
  const spki = readTlv(der, at, der.length);
  if (spki.tag !== 0x30) throw new DerError();
  const algId = readTlv(der, spki.start, spki.end);
  if (algId.tag !== 0x30) throw new DerError();
  const oid = readTlv(der, algId.start, algId.end);
  if (oid.tag !== 0x06) throw new DerError();
  const bits = readTlv(der, algId.end, spki.end);
  if (bits.tag !== 0x03) throw new DerError();
  const oidHex = hex(der, oid);
  const kind = OID_KIND.get(oidHex);
  if (kind === undefined) {
    throw new Error(`unsupported public key type ${OID_NAMES.get(oidHex) ?? "(unknown algorithm)"}`);
  }
  if (kind !== "ec") return kind;
  const curve = oid.end < algId.end ? readTlv(der, oid.end, algId.end) : undefined;
  const curveKind = curve && curve.tag === 0x06 ? CURVE_KIND.get(hex(der, curve)) : undefined;
  if (!curveKind) throw new Error("unsupported EC curve (P-256, P-384 and P-521 are supported)");
  return curveKind;
}

/** Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial, sig, issuer, validity, subject, spki, ... } } */
function certificateSpkiOffset(der: Uint8Array): number {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new DerError();
  const tbs = readTlv(der, cert.start, cert.end);
  if (tbs.tag !== 0x30) throw new DerError();
  let at = tbs.start;
  let field = readTlv(der, at, tbs.end);
  if (field.tag === 0xa0) at = field.end; // explicit version
  // serialNumber, signature, issuer, validity, subject
  for (let i = 0; i < 5; i++) at = readTlv(der, at, tbs.end).end;
  field = readTlv(der, at, tbs.end);
  if (field.tag !== 0x30) throw new DerError();
  return at;
}
