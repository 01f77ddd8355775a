// Byte tables rather than regular expressions: the checks run per byte, so any non-ASCII code unit
// (which can only appear as a UTF-16 unit above 0x7f) falls outside the table and is rejected.

const TRUST_DOMAIN_CHARS = new Uint8Array(128);
const PATH_CHARS = new Uint8Array(128);

for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const lower = ch >= 'a' && ch <= 'z';
  const upper = ch >= 'A' && ch <= 'Z';
  const digit = ch >= '0' && ch <= '9';
  const punct = ch === '.' || ch === '-' || ch === '_';
  TRUST_DOMAIN_CHARS[c] = lower || digit || punct ? 1 : 0;
  PATH_CHARS[c] = lower || upper || digit || punct ? 1 : 0;
}

/** Whether a UTF-16 code unit may appear in a trust domain name: `[a-z0-9._-]`. */
export function isTrustDomainChar(code: number): boolean {
  return code < 128 && TRUST_DOMAIN_CHARS[code] === 1;
}

/** Whether a UTF-16 code unit may appear in a path segment: `[a-zA-Z0-9._-]`. */
export function isPathChar(code: number): boolean {
  return code < 128 && PATH_CHARS[code] === 1;
}
