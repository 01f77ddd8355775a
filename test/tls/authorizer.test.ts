import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  InvalidArgumentError,
  InvalidSpiffeIdError,
  PeerUnauthorizedError,
} from '../../src/errors.js';
import { matchMemberOf, SpiffeId, TrustDomain } from '../../src/spiffeid/index.js';
import { runAuthorizer } from '../../src/tls/authorizer.js';
import {
  adaptMatcher,
  type Authorizer,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizeOneOf,
} from '../../src/tls/index.js';

const web = SpiffeId.parse('spiffe://a.org/web');
const api = SpiffeId.parse('spiffe://a.org/api');
const other = SpiffeId.parse('spiffe://b.org/web');

function allowed(a: Authorizer, id: SpiffeId): boolean {
  try {
    runAuthorizer(a, id, []);
    return true;
  } catch (err) {
    assert.ok(err instanceof PeerUnauthorizedError);
    assert.equal(err.peerId, id.toString());
    return false;
  }
}

describe('authorizers', () => {
  it('authorizeAny accepts everybody', () => {
    assert.equal(allowed(authorizeAny(), web), true);
    assert.equal(allowed(authorizeAny(), other), true);
  });

  it('authorizeId accepts exactly one ID (SpiffeId or string)', () => {
    assert.equal(allowed(authorizeId(web), web), true);
    assert.equal(allowed(authorizeId('spiffe://a.org/web'), web), true);
    assert.equal(allowed(authorizeId(web), api), false);
    assert.throws(() => {
      runAuthorizer(authorizeId(web), api, []);
    }, /unexpected peer ID "spiffe:\/\/a\.org\/api": expected "spiffe:\/\/a\.org\/web"/);
    assert.throws(() => authorizeId('spiffe://A.org/x'), InvalidSpiffeIdError);
    assert.throws(() => authorizeId(42 as unknown as string), InvalidArgumentError);
  });

  it('authorizeOneOf accepts the listed IDs and nobody when empty', () => {
    const a = authorizeOneOf(web, 'spiffe://a.org/api');
    assert.equal(allowed(a, web), true);
    assert.equal(allowed(a, api), true);
    assert.equal(allowed(a, other), false);
    assert.equal(allowed(authorizeOneOf(), web), false);
  });

  it('authorizeMemberOf accepts one trust domain', () => {
    assert.equal(allowed(authorizeMemberOf('a.org'), web), true);
    assert.equal(allowed(authorizeMemberOf(TrustDomain.parse('a.org')), other), false);
    assert.throws(() => {
      runAuthorizer(authorizeMemberOf('a.org'), other, []);
    }, /unexpected trust domain "b\.org"/);
    assert.throws(() => authorizeMemberOf(42 as unknown as string), InvalidArgumentError);
  });

  it('adaptMatcher uses a matcher; only `true` allows', () => {
    assert.equal(allowed(adaptMatcher(matchMemberOf(TrustDomain.parse('b.org'))), other), true);
    assert.equal(allowed(adaptMatcher(matchMemberOf(TrustDomain.parse('b.org'))), web), false);
    assert.equal(allowed(adaptMatcher((() => 'yes') as unknown as () => boolean), web), false);
    assert.throws(() => adaptMatcher(undefined as never), InvalidArgumentError);
  });

  it('custom authorizers: true or nothing allows; false, a throw or anything else denies', () => {
    assert.equal(
      allowed(() => true, web),
      true,
    );
    assert.equal(
      allowed(() => {
        /* go-spiffe style: no error means allowed */
      }, web),
      true,
    );
    assert.equal(
      allowed(() => false, web),
      false,
    );
    assert.equal(
      allowed(() => 1 as unknown as boolean, web),
      false,
    );
    assert.equal(
      allowed(() => null as unknown as boolean, web),
      false,
    );
    const cause = new Error('no');
    try {
      runAuthorizer(
        () => {
          throw cause;
        },
        web,
        [],
      );
      assert.fail('expected a denial');
    } catch (err) {
      assert.ok(err instanceof PeerUnauthorizedError);
      assert.equal(err.cause, cause);
      assert.match(err.message, /refused by the authorizer: no/);
    }
    try {
      runAuthorizer(
        () => {
          // A non-Error throw on purpose: plain JavaScript authorizers can do it.
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw 'a string';
        },
        web,
        [],
      );
    } catch (err) {
      assert.ok(err instanceof PeerUnauthorizedError);
    }
  });

  it('an async authorizer denies, and its late rejection is swallowed', async () => {
    let rejectLater: (e: Error) => void = () => undefined;
    const pending = new Promise<boolean>((_resolve, reject) => {
      rejectLater = reject;
    });
    const a = (() => pending) as unknown as Authorizer;
    assert.throws(() => {
      runAuthorizer(a, web, []);
    }, /returned a Promise/);
    const unhandled: unknown[] = [];
    const listener = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', listener);
    rejectLater(new Error('late'));
    await new Promise((r) => setImmediate(r));
    process.off('unhandledRejection', listener);
    assert.deepEqual(unhandled, []);
  });

  it('the authorizer sees the verified chains it is given', () => {
    let seen: unknown;
    runAuthorizer(
      (_id, chains) => {
        seen = chains;
      },
      web,
      [[]],
    );
    assert.deepEqual(seen, [[]]);
  });

  it('property: authorizeOneOf(ids) allows exactly the members of ids', () => {
    const seg = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 5 }), seg, (paths, probe) => {
        const ids = paths.map((p) => `spiffe://a.org/${p}`);
        const id = SpiffeId.parse(`spiffe://a.org/${probe}`);
        return allowed(authorizeOneOf(...ids), id) === ids.includes(id.toString());
      }),
    );
  });
});
