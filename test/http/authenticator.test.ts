// createJwtSvidAuthenticator: bearer extraction (RFC 6750 §2.1), the RFC 6750 §3 challenges, the
// token rules, the authorizer, the cache, the realm and the signal. Every refusal beside a
// control that the same setup accepts.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  InvalidArgumentError,
  InvalidJwtSvidError,
  JwtSvidAuthError,
  PeerUnauthorizedError,
  type JwtSvidFailure,
} from '../../src/errors.js';
import { tokenDescription } from '../../src/http/challenge.js';
import {
  createJwtSvidAuthenticator,
  type JwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
  type JwtSvidAuthorizer,
} from '../../src/http/index.js';
import { matchId, matchMemberOf, SpiffeId, TrustDomain } from '../../src/spiffeid/index.js';
import type { JwtSvid } from '../../src/svid/index.js';
import type { JwtAuthority } from '../../src/testing/jwt-authority.js';
import {
  assertNoLeak,
  AUD,
  DB,
  mint,
  parseChallenge,
  refusedWith,
  WEB,
  world,
} from './jwt-helpers.js';

let authority: JwtAuthority;
let other: JwtAuthority;
let token: string;

before(async () => {
  ({ authority, other } = await world());
  token = await mint();
});

function authenticator(options: Partial<JwtSvidAuthenticatorOptions> = {}): JwtSvidAuthenticator {
  return createJwtSvidAuthenticator({ bundleSource: authority, audience: AUD, ...options });
}

function withAuthorization(value: string): Record<string, string> {
  return { authorization: value };
}

describe('bearer extraction (RFC 6750 §2.1)', () => {
  it('accepts a valid token in every header shape (control)', async () => {
    const auth = authenticator();
    const shapes = [
      withAuthorization(`Bearer ${token}`),
      { authorization: [`Bearer ${token}`] }, // req.headersDistinct
      { Authorization: `Bearer ${token}` }, // any case
      new Headers({ authorization: `Bearer ${token}` }),
    ];
    for (const headers of shapes) {
      const { id, svid } = await auth.authenticate(headers);
      assert.equal(id.toString(), WEB);
      assert.equal(svid.marshal(), token);
    }
  });

  it('refuses a request without Authorization: 401, bare Bearer challenge, no error code', async () => {
    const err = await refusedWith(authenticator().authenticate({ accept: '*/*' }), 'missing');
    assert.equal(err.wwwAuthenticate, 'Bearer');
    await refusedWith(authenticator().authenticate({ authorization: [] }), 'missing');
    await refusedWith(authenticator().authenticate(new Headers()), 'missing');
  });

  it('refuses two Authorization headers in every shape', async () => {
    const auth = authenticator();
    const twice = `Bearer ${token}`;
    const err = await refusedWith(
      auth.authenticate({ authorization: [twice, twice] }),
      'malformed',
      token,
    );
    assert.match(err.message, /2 Authorization headers/);
    await refusedWith(
      auth.authenticate({ Authorization: twice, authorization: twice }),
      'malformed',
      token,
    );
    const joined = new Headers();
    joined.append('authorization', twice);
    joined.append('authorization', twice);
    const viaFetch = await refusedWith(auth.authenticate(joined), 'malformed', token);
    assert.match(viaFetch.message, /more than one credential/);
    await refusedWith(
      auth.authenticate(withAuthorization(`${twice}, ${twice}`)),
      'malformed',
      token,
    );
    // Control: the same value once.
    assert.equal((await auth.authenticate({ authorization: [twice] })).id.toString(), WEB);
  });

  it('refuses other schemes without an error code, and takes Bearer in any case', async () => {
    const auth = authenticator();
    for (const value of [`Basic ${token}`, `Token ${token}`, `Bearertoken${token}`, token]) {
      await refusedWith(auth.authenticate(withAuthorization(value)), 'scheme', token);
    }
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const { id } = await auth.authenticate(withAuthorization(`${scheme} ${token}`));
      assert.equal(id.toString(), WEB);
    }
  });

  it('needs one or more SP between scheme and token, and nothing else', async () => {
    const auth = authenticator();
    assert.ok(await auth.authenticate(withAuthorization(`Bearer    ${token}`)));
    assert.ok(await auth.authenticate(withAuthorization(` \tBearer ${token} \t`)), 'OWS around');
    const cases: [string, RegExp][] = [
      [`Bearer\t${token}`, /followed by a space/],
      ['Bearer', /no token/],
      ['Bearer   ', /no token/],
      ['', /empty/],
      [`Bearer ${token} x`, /outside the RFC 6750 b64token set/],
      [`Bearer ${token}!`, /outside the RFC 6750 b64token set/],
      [`Bearer ${token}\r\n`, /outside the RFC 6750 b64token set/],
      [`Bearer =${token}`, /outside the RFC 6750 b64token set/],
    ];
    for (const [value, message] of cases) {
      const err = await refusedWith(
        auth.authenticate(withAuthorization(value)),
        'malformed',
        token,
      );
      assert.match(err.message, message, JSON.stringify(value.slice(0, 12)));
      assert.match(err.description, message);
    }
  });

  it('hands b64token characters that a JWT never has to the validator (invalid_token)', async () => {
    const err = await refusedWith(
      authenticator().authenticate(withAuthorization('Bearer abc+/~de==')),
      'invalid-token',
    );
    assert.ok(err.cause instanceof InvalidJwtSvidError);
    assert.equal(err.cause.reason, 'malformed');
  });

  it('never leaks the header value and always answers a well-formed challenge (property)', async () => {
    const auth = authenticator({ realm: 'reports' });
    const marker = 'QzQzXkXk';
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Bearer ', 'bearer  ', 'Basic ', '', 'Bearer\t', 'Bearer x, '),
        fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })),
        async (prefix, tail) => {
          const refused = await auth
            .authenticate(withAuthorization(`${prefix}${marker}${tail}`))
            .then(
              () => assert.fail('accepted junk'),
              (e: unknown) => e,
            );
          assert.ok(refused instanceof JwtSvidAuthError);
          // refusedWith checks the status and the challenge's form for the rule that failed.
          const err = await refusedWith(Promise.reject(refused), refused.reason, marker);
          assert.equal(parseChallenge(err.wwwAuthenticate)['realm'], 'reports');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('token rules', () => {
  const cases: [string, () => Promise<string>, JwtSvidFailure, string][] = [
    [
      'expired',
      () =>
        authority.mint({
          subject: WEB,
          audience: AUD,
          issuedAt: new Date(Date.now() - 600_000),
          expiresAt: new Date(Date.now() - 120_000),
        }),
      'expired',
      'the token has expired',
    ],
    [
      'for another audience',
      () => mint(WEB, 'spiffe://example.org/billing'),
      'audience',
      'the token is not for this audience',
    ],
    [
      'signed with an unknown kid',
      () => authority.mintUnchecked({ subject: WEB, audience: AUD, header: { kid: 'unknown' } }),
      'unknown-key',
      'the token was signed with an unknown key',
    ],
    [
      'of an untrusted trust domain',
      () => other.mint({ subject: 'spiffe://other.org/web', audience: AUD, ttlSeconds: 300 }),
      'no-bundle',
      'the trust domain of the token is not trusted',
    ],
    [
      'with a tampered signature',
      () => authority.mintUnchecked({ subject: WEB, audience: AUD, tamperSignature: true }),
      'signature',
      'the signature of the token is invalid',
    ],
  ];
  for (const [name, make, reason, description] of cases) {
    it(`refuses a token ${name}: 401 invalid_token, fixed description, no leak`, async () => {
      const bad = await make();
      const err = await refusedWith(
        authenticator().authenticate(withAuthorization(`Bearer ${bad}`)),
        'invalid-token',
        bad,
      );
      assert.ok(err.cause instanceof InvalidJwtSvidError);
      assert.equal(err.cause.reason, reason);
      assert.equal(err.description, description);
      assert.equal(
        err.wwwAuthenticate,
        `Bearer error="invalid_token", error_description="${description}"`,
      );
    });
  }

  it('accepts the valid token with the same authenticator (control)', async () => {
    assert.equal(
      (await authenticator().authenticate(withAuthorization(`Bearer ${token}`))).id.toString(),
      WEB,
    );
  });

  it('has a fixed description within the RFC 6750 charset for every token rule', () => {
    const reasons: JwtSvidFailure[] = [
      'malformed',
      'algorithm',
      'type',
      'critical-header',
      'subject',
      'audience',
      'expired',
      'not-yet-valid',
      'issued-in-future',
      'missing-claim',
      'claim-type',
      'no-bundle',
      'unknown-key',
      'signature',
    ];
    for (const reason of reasons) {
      assert.match(tokenDescription(reason), /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, reason);
    }
  });
});

describe('authorization', () => {
  async function refusedBy(authorize: JwtSvidAuthorizer, bad = token) {
    return refusedWith(
      authenticator({ authorize }).authenticate(withAuthorization(`Bearer ${bad}`)),
      'forbidden',
      bad,
    );
  }

  it('applies a spiffeid Matcher: 403 insufficient_scope for others, the caller through', async () => {
    const onlyDb = matchId(SpiffeId.parse(DB));
    const err = await refusedBy(onlyDb);
    assert.equal(err.peerId, WEB);
    assert.equal(err.description, `${WEB} is not authorized for this request`);
    assert.match(err.wwwAuthenticate, /^Bearer error="insufficient_scope", error_description="/);
    const dbToken = await mint(DB);
    const ok = await authenticator({ authorize: onlyDb }).authenticate(
      withAuthorization(`Bearer ${dbToken}`),
    );
    assert.equal(ok.id.toString(), DB);
  });

  it('denies when the authorizer throws, keeping what it threw as the cause', async () => {
    const thrown = new PeerUnauthorizedError(WEB, 'not on the list');
    const err = await refusedBy(() => {
      throw thrown;
    });
    assert.equal(err.cause, thrown);
    assert.match(err.message, /refused by the authorizer: it threw: not on the list/);
    const td = TrustDomain.parse('example.org');
    const ok = await authenticator({ authorize: matchMemberOf(td) }).authenticate(
      withAuthorization(`Bearer ${token}`),
    );
    assert.equal(ok.id.toString(), WEB);
    await refusedBy(matchMemberOf(TrustDomain.parse('other.org')));
  });

  it('awaits an async authorizer: false and rejections deny, true allows', async () => {
    await refusedBy(() => Promise.resolve(false));
    const rejected = await refusedBy(() => Promise.reject(new Error('policy service says no')));
    assert.match(rejected.message, /policy service says no/);
    const ok = await authenticator({ authorize: () => Promise.resolve(true) }).authenticate(
      withAuthorization(`Bearer ${token}`),
    );
    assert.equal(ok.id.toString(), WEB);
  });

  it('denies any result other than true or nothing', async () => {
    for (const result of ['yes', 1, null, {}]) {
      const err = await refusedBy(() => result as boolean);
      assert.match(err.message, /returned/);
    }
    const ok = await authenticator({ authorize: () => undefined }).authenticate(
      withAuthorization(`Bearer ${token}`),
    );
    assert.equal(ok.id.toString(), WEB);
  });

  it('passes the ID and the SVID, and is not called for an invalid token', async () => {
    const seen: [SpiffeId, JwtSvid][] = [];
    const auth = authenticator({
      authorize: (id: SpiffeId, svid: JwtSvid) => {
        seen.push([id, svid]);
        return true;
      },
    });
    const result = await auth.authenticate(withAuthorization(`Bearer ${token}`));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.[0], result.id);
    assert.equal(seen[0][1], result.svid);
    await refusedWith(
      auth.authenticate(withAuthorization(`Bearer ${await mint(WEB, 'x')}`)),
      'invalid-token',
    );
    assert.equal(seen.length, 1);
  });
});

describe('cache, realm, signal, options', () => {
  it('serves a repeated token from the validator cache (no second verification)', async () => {
    const auth = authenticator();
    const first = await auth.authenticate(withAuthorization(`Bearer ${token}`));
    const second = await auth.authenticate({ authorization: [`Bearer ${token}`] });
    assert.equal(second.svid, first.svid, 'a cache hit returns the remembered SVID');
    // Control: another authenticator (another cache) verifies again and builds a new SVID.
    const fresh = await authenticator().authenticate(withAuthorization(`Bearer ${token}`));
    assert.notEqual(fresh.svid, first.svid);
    assert.ok(Object.isFrozen(first));
  });

  it('puts the realm first in every challenge', async () => {
    const auth = authenticator({ realm: 'example reports', authorize: () => false });
    const missing = await refusedWith(auth.authenticate({}), 'missing');
    assert.equal(missing.wwwAuthenticate, 'Bearer realm="example reports"');
    const forbidden = await refusedWith(
      auth.authenticate(withAuthorization(`Bearer ${token}`)),
      'forbidden',
    );
    assert.match(
      forbidden.wwwAuthenticate,
      /^Bearer realm="example reports", error="insufficient_scope"/,
    );
  });

  it('refuses a realm that cannot be quoted as is', () => {
    for (const realm of ['', 'a"b', 'a\\b', 'tab\there', 'é', 42]) {
      assert.throws(() => authenticator({ realm: realm as string }), InvalidArgumentError);
    }
    assert.ok(authenticator({ realm: 'Example Realm (prod) #1' }));
  });

  it('refuses an authorize that is not a function and an empty audience', () => {
    assert.throws(() => authenticator({ authorize: 'admin' as never }), InvalidArgumentError);
    assert.throws(() => authenticator({ audience: '' }), InvalidArgumentError);
    assert.throws(
      () => createJwtSvidAuthenticator({ bundleSource: {} as never, audience: AUD }),
      InvalidArgumentError,
    );
  });

  it('rejects with the abort reason of an aborted signal, before and after the authorizer', async () => {
    let calls = 0;
    const controller = new AbortController();
    const auth = authenticator({
      authorize: () => {
        calls++;
        controller.abort(new Error('client went away'));
        return true;
      },
    });
    await assert.rejects(
      auth.authenticate(withAuthorization(`Bearer ${token}`), { signal: controller.signal }),
      /client went away/,
    );
    assert.equal(calls, 1);
    await assert.rejects(
      auth.authenticate(withAuthorization(`Bearer ${token}`), { signal: AbortSignal.abort() }),
      { name: 'AbortError' },
    );
    assert.equal(calls, 1, 'an aborted request is not authorized');
    // Control: a live signal.
    const ok = await auth.authenticate(withAuthorization(`Bearer ${token}`), {
      signal: new AbortController().signal,
    });
    assert.equal(ok.id.toString(), WEB);
  });

  it('never puts the token in the message of a forbidden caller', async () => {
    const err = await refusedWith(
      authenticator({ authorize: () => false }).authenticate(withAuthorization(`Bearer ${token}`)),
      'forbidden',
    );
    assertNoLeak(err, token);
  });
});
