import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NameConstraintsFacts } from '../../src/internal/x509/facts.js';
import {
  dnsMatches,
  nameConstraintViolation,
  uriHost,
  uriHostMatches,
} from '../../src/internal/x509/name-constraints.js';

function nc(parts: Partial<NameConstraintsFacts>): NameConstraintsFacts {
  return {
    critical: true,
    permittedDns: [],
    excludedDns: [],
    permittedUri: [],
    excludedUri: [],
    uncheckedForms: [],
    ...parts,
  };
}

describe('name constraints', () => {
  it('match DNS subtrees as RFC 5280 describes', () => {
    const cases: [string, string, boolean][] = [
      ['example.com', 'example.com', true],
      ['www.example.com', 'example.com', true],
      ['WWW.Example.COM', 'example.com', true],
      ['badexample.com', 'example.com', false],
      ['example.com', '.example.com', false],
      ['a.example.com', '.example.com', true],
      ['anything.org', '', true],
      ['example.com.evil', 'example.com', false],
    ];
    for (const [name, constraint, expected] of cases) {
      assert.equal(dnsMatches(name, constraint), expected, `${name} in ${constraint}`);
    }
  });

  it('match URI hosts: exact host, or subdomains for a leading period', () => {
    const cases: [string, string, boolean][] = [
      ['a.org', 'a.org', true],
      ['A.org', 'a.org', true],
      ['x.a.org', 'a.org', false],
      ['x.a.org', '.a.org', true],
      ['a.org', '.a.org', false],
      ['ba.org', '.a.org', false],
    ];
    for (const [host, constraint, expected] of cases) {
      assert.equal(uriHostMatches(host, constraint), expected, `${host} in ${constraint}`);
    }
  });

  it('extract URI hosts, refusing forms that constraints cannot be checked against', () => {
    assert.equal(uriHost('spiffe://a.org/x'), 'a.org');
    assert.equal(uriHost('https://A.org:8443/x?y#z'), 'a.org');
    assert.equal(uriHost('spiffe://user@a.org/x'), undefined);
    assert.equal(uriHost('spiffe://10.0.0.1/x'), undefined);
    assert.equal(uriHost('spiffe://[::1]/x'), undefined);
    assert.equal(uriHost('urn:uuid:1234'), undefined);
    assert.equal(uriHost('spiffe:///x'), undefined);
    assert.equal(uriHost('spiffe://a..org/x'), undefined);
  });

  it('report violations of permitted and excluded subtrees', () => {
    const uri = 'spiffe://a.org/web';
    assert.equal(nameConstraintViolation(nc({ permittedUri: ['a.org'] }), [uri], []), undefined);
    assert.match(
      nameConstraintViolation(nc({ permittedUri: ['b.org'] }), [uri], []) ?? '',
      /not in any permitted subtree \(b\.org\)/,
    );
    assert.match(
      nameConstraintViolation(nc({ excludedUri: ['a.org'] }), [uri], []) ?? '',
      /excluded subtree/,
    );
    assert.match(
      nameConstraintViolation(nc({ permittedUri: ['a.org'] }), ['spiffe://10.1.1.1/x'], []) ?? '',
      /no host/,
    );
    // Constraints of one form do not restrict names of another.
    assert.equal(nameConstraintViolation(nc({ permittedDns: ['x.com'] }), [uri], []), undefined);
    assert.equal(
      nameConstraintViolation(nc({ permittedUri: ['b.org'] }), [], ['y.com']),
      undefined,
    );
    assert.equal(
      nameConstraintViolation(nc({ permittedDns: ['x.com'] }), [], ['a.x.com', '*.x.com']),
      undefined,
    );
    assert.match(
      nameConstraintViolation(nc({ permittedDns: ['x.com'] }), [], ['y.com']) ?? '',
      /not in any permitted subtree/,
    );
    assert.match(
      nameConstraintViolation(nc({ excludedDns: ['x.com'] }), [], ['*.x.com']) ?? '',
      /excluded subtree/,
    );
    assert.match(
      nameConstraintViolation(nc({ excludedDns: ['x.com'] }), [], ['a b.com']) ?? '',
      /not a valid DNS name/,
    );
  });
});
