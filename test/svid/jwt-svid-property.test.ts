// Property tests: whatever string arrives as a token, validation fails only with SDK errors, and
// the token never shows up in an error's message, stack, inspect output or JSON.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { base64url } from 'jose';
import { InvalidJwtSvidError } from '../../src/errors.js';
import { JwtSvidValidator } from '../../src/svid/jwt-svid-validator.js';
import { parseAndValidateJwtSvid, parseInsecureJwtSvid } from '../../src/svid/parse-jwt-svid.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { AUD, NOW, SUB, assertNoLeak } from './jwt-helpers.js';

const KID = 'prop-kid';
let authority: JwtAuthority;
let valid: string;

before(async () => {
  authority = await JwtAuthority.create({ trustDomain: 'example.org', kid: KID });
  valid = await authority.mint({ subject: SUB, audience: AUD, issuedAt: NOW });
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64part = fc
  .array(fc.constantFrom(...B64.split('')), { maxLength: 120 })
  .map((chars) => chars.join(''));
const jsonPart = fc.jsonValue({ maxDepth: 3 }).map((v) => base64url.encode(JSON.stringify(v)));
const header = fc
  .record(
    {
      alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'none', 'HS256', 'EdDSA'), fc.jsonValue()),
      kid: fc.oneof(fc.constant(KID), fc.string(), fc.jsonValue()),
      typ: fc.oneof(fc.constantFrom('JWT', 'JOSE', 'jwt'), fc.jsonValue()),
      crit: fc.array(fc.string(), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((h) => base64url.encode(JSON.stringify(h)));
const claims = fc
  .record(
    {
      sub: fc.oneof(fc.constant(SUB), fc.webUrl(), fc.string(), fc.jsonValue()),
      aud: fc.oneof(fc.constant(AUD), fc.array(fc.string()), fc.jsonValue()),
      exp: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
      nbf: fc.oneof(fc.integer(), fc.jsonValue()),
      iat: fc.oneof(fc.integer(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  )
  .map((c) => base64url.encode(JSON.stringify(c)));

/** Token-shaped strings at every level of plausibility, from noise to signed-looking JWTs. */
const tokens = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(b64part, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
  fc.tuple(jsonPart, jsonPart, b64part).map((parts) => parts.join('.')),
  fc.tuple(header, claims, b64part).map((parts) => parts.join('.')),
  fc.tuple(fc.nat(), fc.constantFrom(...B64.split(''))).map(([i, c]) => {
    // One character of a valid token replaced. The last character of a part carries bits that
    // base64url decoding drops, so such a change may decode to the same token (checked below).
    const pos = i % valid.length;
    return valid.slice(0, pos) + c + valid.slice(pos + 1);
  }),
);

async function outcome(promise: Promise<unknown>, token: string): Promise<'ok' | 'rejected'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof InvalidJwtSvidError, `unexpected ${String(err)}`);
    assertNoLeak(err, token);
    return 'rejected';
  }
}

describe('property: junk in, SpiffeError out, token never echoed', () => {
  it('parseAndValidateJwtSvid, parseInsecureJwtSvid and JwtSvidValidator', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    await fc.assert(
      fc.asyncProperty(tokens, async (token) => {
        const results = [
          await outcome(parseAndValidateJwtSvid(token, authority, AUD, { now: NOW }), token),
          await outcome(validator.validate(token), token),
        ];
        await outcome(parseInsecureJwtSvid(token, AUD, { now: NOW }), token);
        // Accepting is fine only for the untouched token (or one decoding to the same bytes).
        if (results.includes('ok')) {
          assert.deepEqual(
            token.split('.').map((p) => base64url.decode(p)),
            valid.split('.').map((p) => base64url.decode(p)),
          );
        }
        assert.equal(results[0], results[1], 'the validator agrees with parseAndValidateJwtSvid');
      }),
      { numRuns: 250 },
    );
  });

  it('a changed character anywhere in the header or payload is rejected', async () => {
    const [h, p] = valid.split('.') as [string, string, string];
    const editable = h.length + 1 + p.length;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: editable - 1 }),
        fc.constantFrom(...B64.split('')),
        async (pos, c) => {
          if (
            valid[pos] === c ||
            valid[pos] === '.' ||
            pos === h.length - 1 ||
            pos === editable - 1
          )
            return;
          const token = valid.slice(0, pos) + c + valid.slice(pos + 1);
          assert.equal(
            await outcome(parseAndValidateJwtSvid(token, authority, AUD, { now: NOW }), token),
            'rejected',
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
