import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validatePath, validatePathSegment, type SpiffeIdRule } from '../../src/spiffeid/index.js';
import { assertInvalidArgument, assertInvalidId } from './helpers.js';

describe('validatePath', () => {
  const valid = [
    '',
    '/a',
    '/a/b',
    '/ns/prod/sa/web',
    '/.a',
    '/..a',
    '/...',
    '/a./b..',
    '/A-Z_a.z-09',
  ];
  for (const path of valid) {
    it(`accepts ${JSON.stringify(path)}`, () => {
      assert.doesNotThrow(() => {
        validatePath(path);
      });
    });
  }

  const invalid: readonly (readonly [string, SpiffeIdRule])[] = [
    ['a', 'path-leading-slash'],
    ['a/b', 'path-leading-slash'],
    ['.', 'path-leading-slash'],
    ['%2F', 'path-leading-slash'],
    ['/', 'path-trailing-slash'],
    ['/a/', 'path-trailing-slash'],
    ['//', 'path-empty-segment'],
    ['//a', 'path-empty-segment'],
    ['/a//b', 'path-empty-segment'],
    ['/.', 'path-dot-segment'],
    ['/..', 'path-dot-segment'],
    ['/./a', 'path-dot-segment'],
    ['/a/../b', 'path-dot-segment'],
    ['/a/.', 'path-dot-segment'],
    ['/a?', 'path-char'],
    ['/a#', 'path-char'],
    ['/%41', 'path-char'],
    ['/a b', 'path-char'],
    ['/a\u00e9', 'path-char'],
    ['/a\u{1F600}', 'path-char'],
  ];
  for (const [path, rule] of invalid) {
    it(`rejects ${JSON.stringify(path)} (${rule})`, () => {
      assertInvalidId(
        () => {
          validatePath(path);
        },
        rule,
        path,
      );
    });
  }

  it('reports positions within the path it was given', () => {
    assert.throws(
      () => {
        validatePath('/ok/a$');
      },
      (err: Error) =>
        err.message.startsWith('invalid SPIFFE ID path "/ok/a$"') &&
        err.message.includes('index 5'),
    );
  });

  it('rejects non-strings with InvalidArgumentError', () => {
    assertInvalidArgument(() => {
      validatePath(undefined as unknown as string);
    }, 'as a string');
    assertInvalidArgument(() => {
      validatePath(['/a'] as unknown as string);
    }, 'as a string');
  });
});

describe('validatePathSegment', () => {
  const valid = ['a', 'A', '0', '-', '_', '...', '.a', 'a.', '..a', 'web-01_x.y'];
  for (const segment of valid) {
    it(`accepts ${JSON.stringify(segment)}`, () => {
      assert.doesNotThrow(() => {
        validatePathSegment(segment);
      });
    });
  }

  const invalid: readonly (readonly [string, SpiffeIdRule])[] = [
    ['', 'path-empty-segment'],
    ['.', 'path-dot-segment'],
    ['..', 'path-dot-segment'],
    ['/', 'path-char'],
    ['/a', 'path-char'],
    ['a/', 'path-char'],
    ['a/b', 'path-char'],
    ['$', 'path-char'],
    ['a%2Fb', 'path-char'],
    ['a:b', 'path-char'],
    ['é', 'path-char'],
  ];
  for (const [segment, rule] of invalid) {
    it(`rejects ${JSON.stringify(segment)} (${rule})`, () => {
      assertInvalidId(
        () => {
          validatePathSegment(segment);
        },
        rule,
        segment,
      );
    });
  }

  it('rejects non-strings with InvalidArgumentError', () => {
    assertInvalidArgument(() => {
      validatePathSegment(5 as unknown as string);
    }, 'as a string');
  });
});
