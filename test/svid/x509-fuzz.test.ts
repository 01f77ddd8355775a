import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SpiffeError } from '../../src/errors.js';
import { parseAndVerifyX509Svid } from '../../src/svid/verify-x509-svid.js';
import { X509Svid } from '../../src/svid/x509-svid.js';
import { TestCA } from '../../src/testing/test-ca.js';

/** Runs `fn`; it may succeed, but if it throws, the error must be one of the SDK's. */
function onlySpiffeErrors(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof SpiffeError, `unexpected ${String(err)}`);
    return undefined;
  }
}

describe('X.509 SVID inputs from the outside world', () => {
  let ca: TestCA;
  let chainDer: Uint8Array[];
  let keyDer: Uint8Array;
  before(async () => {
    ca = await TestCA.create({ trustDomain: 'example.org', intermediates: 1 });
    const svid = await ca.issueX509Svid('spiffe://example.org/web');
    chainDer = svid.certificates.map((c) => new Uint8Array(c.raw));
    keyDer = svid.marshalRaw().privateKey;
  });

  it('random bytes make parse, parseRaw and parseAndVerify throw only SpiffeErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        assert.throws(() => X509Svid.parseRaw(a, b), SpiffeError);
        assert.throws(() => X509Svid.parse(a, b), SpiffeError);
        assert.throws(() => parseAndVerifyX509Svid([a], ca.x509Bundle()), SpiffeError);
      }),
      { numRuns: 200 },
    );
  });

  it('random PEM-looking text makes parse throw only SpiffeErrors', () => {
    fc.assert(
      fc.property(
        fc.base64String({ maxLength: 400 }),
        fc.string({ maxLength: 30 }),
        (body, label) => {
          const pem = `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
          assert.throws(() => X509Svid.parse(pem, pem), SpiffeError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('single-byte corruptions of a valid chain are rejected or change nothing', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (which, position, xor) => {
          const chain = chainDer.map((d) => new Uint8Array(d));
          const target = chain[which]!;
          const index = position % target.length;
          target[index] = target[index]! ^ xor;
          const result = onlySpiffeErrors(() => parseAndVerifyX509Svid(chain, ca.x509Bundle()));
          assert.equal(
            result,
            undefined,
            `byte ${index} of certificate ${which} xor ${xor} verified`,
          );
          onlySpiffeErrors(() => X509Svid.parseRaw(new Uint8Array(Buffer.concat(chain)), keyDer));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('control: the uncorrupted chain verifies and parses', () => {
    assert.equal(parseAndVerifyX509Svid(chainDer, ca.x509Bundle()).id.path, '/web');
    assert.equal(
      X509Svid.parseRaw(new Uint8Array(Buffer.concat(chainDer)), keyDer).id.path,
      '/web',
    );
  });
});
