// RFC 6750 §3 challenges and the refusals that carry them. Internal: the public face is
// JwtSvidAuthError (src/errors.ts).
import {
  InvalidArgumentError,
  JwtSvidAuthError,
  type JwtSvidAuthFailure,
  type JwtSvidFailure,
} from '../errors.js';

/**
 * RFC 6750 §3: `error_description` values MUST NOT contain characters outside
 * %x20-21 / %x23-5B / %x5D-7E (printable ASCII without `"` and `\`), so a value of that set can be
 * put between quotes as is. The realm is held to the same set.
 */
const QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/** The RFC 6750 §3.1 error code of each refusal; none for a request without bearer credentials. */
const ERROR_CODES: Readonly<Record<JwtSvidAuthFailure, string | undefined>> = {
  missing: undefined,
  scheme: undefined,
  malformed: 'invalid_request',
  'invalid-token': 'invalid_token',
  forbidden: 'insufficient_scope',
};

/**
 * What the client is told about a rejected token: fixed text per rule, never anything taken from
 * the token (which could carry control characters or quotes, and which the client knows anyway).
 */
const TOKEN_DESCRIPTIONS: Readonly<Record<JwtSvidFailure, string>> = {
  malformed: 'the token is not a well-formed JWT-SVID',
  algorithm: 'the signing algorithm of the token is not allowed',
  type: 'the typ header of the token is not allowed',
  'critical-header': 'the token has a crit header',
  'missing-claim': 'the token lacks a required claim (sub, aud or exp)',
  'claim-type': 'a claim of the token has the wrong type',
  subject: 'the subject of the token is not a SPIFFE ID',
  audience: 'the token is not for this audience',
  expired: 'the token has expired',
  'not-yet-valid': 'the token is not valid yet',
  'issued-in-future': 'the token was issued in the future',
  'no-bundle': 'the trust domain of the token is not trusted',
  'unknown-key': 'the token was signed with an unknown key',
  signature: 'the signature of the token is invalid',
};

/** The client-facing description of a token that failed `reason`. */
export function tokenDescription(reason: JwtSvidFailure): string {
  return TOKEN_DESCRIPTIONS[reason];
}

/** Checks the `realm` option: a non-empty string that can be quoted without escapes. */
export function checkRealm(realm: unknown, what: string): void {
  if (realm !== undefined && (typeof realm !== 'string' || !QUOTABLE.test(realm))) {
    throw new InvalidArgumentError(
      `${what}: realm must be a non-empty string of printable ASCII characters other than '"' and '\\'`,
    );
  }
}

/**
 * The `WWW-Authenticate` value for a refusal. Without bearer credentials in the request the
 * challenge carries no error code or description (RFC 6750 §3.1: "SHOULD NOT include an error
 * code or other error information").
 */
function challenge(
  reason: JwtSvidAuthFailure,
  realm: string | undefined,
  description: string,
): string {
  const params: string[] = [];
  if (realm !== undefined) params.push(`realm="${realm}"`);
  const code = ERROR_CODES[reason];
  if (code !== undefined) params.push(`error="${code}"`, `error_description="${description}"`);
  return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`;
}

/** A refusal with its challenge. `description` must be QUOTABLE (every caller passes fixed text or a SPIFFE ID). */
export function refusal(
  reason: JwtSvidAuthFailure,
  realm: string | undefined,
  message: string,
  description: string,
  extra: { peerId?: string; cause?: unknown } = {},
): JwtSvidAuthError {
  return new JwtSvidAuthError(reason, message, {
    ...extra,
    wwwAuthenticate: challenge(reason, realm, description),
    description,
  });
}

/** The JSON body of a refusal response (the same error code and description as the challenge). */
export interface RefusalBody {
  readonly status: 401 | 403;
  readonly error?: string;
  readonly error_description: string;
}

/** The body adapters send with a refusal. */
export function refusalBody(err: JwtSvidAuthError): RefusalBody {
  const code = ERROR_CODES[err.reason];
  return code === undefined
    ? { status: err.status, error_description: err.description }
    : { status: err.status, error: code, error_description: err.description };
}
