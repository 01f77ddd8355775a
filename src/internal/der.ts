import { X509Certificate } from 'node:crypto';
import { Asn1Error, splitDerElements } from './x509/asn1.js';

/**
 * Why decoding failed; callers wrap it into their layer's {@link SpiffeError} so that nothing but
 * the SDK's own errors reaches users.
 */
export class DecodeError extends Error {}

/** One PEM block: its label and DER body. */
export interface PemBlock {
  readonly type: string;
  readonly der: Uint8Array;
}

function toText(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
}

const BASE64_BODY = /^[A-Za-z0-9+/\r\n\t ]*={0,2}[\r\n\t ]*$/;

/**
 * Decodes every PEM block in `input` (RFC 7468); text around blocks is ignored. A linear scan, not
 * a backtracking regular expression, so hostile input costs linear time. Throws
 * {@link DecodeError} when the input holds no PEM block at all or a block is malformed.
 */
export function decodePem(input: string | Uint8Array): PemBlock[] {
  const text = toText(input);
  const blocks: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', pos);
    if (begin === -1) break;
    const labelEnd = text.indexOf('-----', begin + 11);
    if (labelEnd === -1) throw new DecodeError('malformed PEM: unterminated BEGIN line');
    const type = text.slice(begin + 11, labelEnd);
    const endLine = `-----END ${type}-----`;
    const end = text.indexOf(endLine, labelEnd + 5);
    if (end === -1) throw new DecodeError(`malformed PEM: no END line for "${type.slice(0, 40)}"`);
    const body = text.slice(labelEnd + 5, end);
    if (!BASE64_BODY.test(body)) {
      throw new DecodeError(`malformed PEM: the "${type.slice(0, 40)}" block is not base64`);
    }
    blocks.push({ type, der: new Uint8Array(Buffer.from(body, 'base64')) });
    pos = end + endLine.length;
  }
  if (blocks.length === 0) throw new DecodeError('no PEM blocks found');
  return blocks;
}

/**
 * Splits concatenated DER structures (as the Workload API sends them) into single structures.
 * Decoding is `asn1js`'s, with the DER checks of ./x509/asn1.ts on top; every failure, including
 * the plain errors `asn1js` can throw, is a {@link DecodeError}.
 */
export function splitDer(der: Uint8Array): Uint8Array[] {
  try {
    return splitDerElements(der, 'malformed DER');
  } catch (err) {
    if (err instanceof Asn1Error) throw new DecodeError(err.message, { cause: err });
    throw new DecodeError(`malformed DER: ${String(err)}`, { cause: err });
  }
}

/** Parses one DER certificate with OpenSSL (through node:crypto). */
export function parseCertificateDer(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new DecodeError(`malformed certificate: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Parses the `CERTIFICATE` blocks of a PEM document; other block types are skipped. A document
 * with PEM blocks but no certificate gives an empty list.
 */
export function parsePemCertificates(input: string | Uint8Array): X509Certificate[] {
  return decodePem(input)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => parseCertificateDer(b.der));
}

/** Parses concatenated DER certificates. Empty input gives an empty list. */
export function parseDerCertificates(der: Uint8Array): X509Certificate[] {
  return splitDer(der).map(parseCertificateDer);
}

/** Encodes certificates as PEM `CERTIFICATE` blocks. */
export function encodePemCertificates(certs: readonly X509Certificate[]): string {
  return certs.map((c) => c.toString()).join('');
}

/** Byte-wise equality of two certificates' DER. */
export function sameCertificate(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}
