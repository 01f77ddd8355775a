import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_MAX_DEPTH,
  JsonParseError,
  type JsonParseFailure,
  MAX_INTEGER_LITERAL_LENGTH,
  parseJson,
} from '../../src/internal/json.js';

/** Converts the parser's output to what JSON.parse gives (bigints to numbers, plain prototypes). */
function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: normalize(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

function reasonOf(fn: () => unknown): JsonParseFailure | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof JsonParseError, `unexpected error type: ${String(err)}`);
    return err.reason;
  }
}

function rejects(text: string | Uint8Array, reason: JsonParseFailure, options = {}): void {
  assert.equal(
    reasonOf(() => parseJson(text, options)),
    reason,
    `input ${String(text).slice(0, 60)}`,
  );
}

function jsonParseAccepts(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('parseJson: the RFC 8259 grammar', () => {
  it('parses every kind of value like JSON.parse', () => {
    const text =
      ' {"a":[1,-2,3.5,-0.25e-3,1E2,0,-0],"b":{"c":null,"d":true,"e":false},"s":"x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00","empty":{},"arr":[]} ';
    assert.deepEqual(normalize(parseJson(text)), JSON.parse(text));
  });

  it('returns objects with a null prototype and keeps __proto__ as plain data', () => {
    const value = parseJson('{"__proto__":{"polluted":true},"constructor":1}') as Record<
      string,
      unknown
    >;
    assert.equal(Object.getPrototypeOf(value), null);
    assert.ok(Object.hasOwn(value, '__proto__'));
    assert.deepEqual(normalize(value['__proto__']), { polluted: true });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  const invalid: [string, string][] = [
    ['empty input', ''],
    ['whitespace only', ' \n\t\r '],
    ['trailing comma in an array', '[1,]'],
    ['trailing comma in an object', '{"a":1,}'],
    ['missing comma', '[1 2]'],
    ['missing colon', '{"a" 1}'],
    ['unquoted member name', '{a:1}'],
    ['number member name', '{1:1}'],
    ['single quotes', "'a'"],
    ['leading zero', '01'],
    ['leading zero after minus', '-01'],
    ['lone minus', '-'],
    ['plus sign', '+1'],
    ['bare fraction', '.5'],
    ['dot without digits', '1.'],
    ['exponent without digits', '1e'],
    ['exponent sign without digits', '1e+'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['hex number', '0x10'],
    ['unterminated string', '"abc'],
    ['unterminated array', '[1,2'],
    ['unterminated object', '{"a":1'],
    ['unescaped newline in a string', '"a\nb"'],
    ['unescaped NUL in a string', '"a\u0000b"'],
    ['invalid escape', '"\\x41"'],
    ['short \\u escape', '"\\u12"'],
    ['non-hex \\u escape', '"\\u12g4"'],
    ['comment', '[1 /* c */]'],
    ['trailing data', '{} {}'],
    ['partial literal', 'tru'],
    ['capitalised literal', 'True'],
    ['non-JSON whitespace (NBSP)', '\u00a0[]'],
    ['non-JSON whitespace (form feed)', '\f[]'],
    ['byte order mark in a string input', '\ufeff[]'],
    ['closing bracket mismatch', '[1}'],
  ];
  for (const [name, text] of invalid) {
    it(`rejects ${name}, as JSON.parse does`, () => {
      assert.equal(jsonParseAccepts(text), false, 'JSON.parse must reject the same text');
      rejects(text, 'syntax');
    });
  }

  const valid: [string, string][] = [
    ['zero', '0'],
    ['negative zero', '-0'],
    ['fraction', '0.5'],
    ['exponent forms', '[1e5,1E+5,1e-5,-1.5e0]'],
    ['escaped solidus and unicode', '"\\/\\u0041\\uD834\\uDD1E"'],
    ['lone surrogate escape (as JSON.parse)', '"\\ud800"'],
    ['JSON whitespace everywhere', ' \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ "a" : 2 } ] \n'],
    ['literals', '[true,false,null]'],
    ['a top-level string', '"x"'],
  ];
  for (const [name, text] of valid) {
    it(`accepts ${name} (positive control)`, () => {
      assert.deepEqual(normalize(parseJson(text)), JSON.parse(text));
    });
  }

  it('says why a number with a leading zero is rejected', () => {
    assert.throws(() => parseJson('[01]'), /a number must not have leading zeros at position 2/);
    assert.throws(() => parseJson('-00'), /a number must not have leading zeros at position 2/);
  });

  it('reports the position of a syntax error', () => {
    try {
      parseJson('[1,\n  x]');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof JsonParseError);
      assert.equal(err.position, 6);
      assert.match(err.message, /at position 6/);
    }
  });
});

describe('parseJson: duplicate member names', () => {
  it('rejects a duplicate member name', () => {
    rejects('{"a":1,"a":2}', 'duplicate-key');
  });

  it('rejects a duplicate that is only equal after unescaping', () => {
    rejects('{"a":1,"\\u0061":2}', 'duplicate-key');
  });

  it('rejects a duplicate in a nested object', () => {
    rejects('[{"x":{"k":1,"k":1}}]', 'duplicate-key');
  });

  it('rejects duplicate __proto__ members', () => {
    rejects('{"__proto__":1,"__proto__":2}', 'duplicate-key');
  });

  it('accepts distinct names, and the same name in different objects (positive control)', () => {
    assert.deepEqual(normalize(parseJson('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')), {
      a: 1,
      b: { a: 2 },
      c: [{ a: 3 }, { a: 4 }],
    });
  });

  it('treats names that differ only in case or escaping of other characters as distinct', () => {
    assert.deepEqual(Object.keys(parseJson('{"a":1,"A":2,"a ":3}') as object), ['a', 'A', 'a ']);
  });
});

describe('parseJson: integers', () => {
  it('keeps safe integers as numbers', () => {
    assert.equal(parseJson('9007199254740991'), Number.MAX_SAFE_INTEGER);
    assert.equal(parseJson('-9007199254740991'), -Number.MAX_SAFE_INTEGER);
  });

  it('keeps integers outside the safe range exactly as bigints', () => {
    assert.equal(parseJson('9007199254740992'), 2n ** 53n);
    assert.equal(parseJson('9007199254740993'), 2n ** 53n + 1n);
    assert.equal(parseJson('18446744073709551615'), 2n ** 64n - 1n);
    assert.equal(parseJson('18446744073709551616'), 2n ** 64n);
    assert.equal(parseJson('-9223372036854775809'), -(2n ** 63n) - 1n);
    // JSON.parse loses the last digit here: this is why the parser exists.
    assert.notEqual(BigInt(JSON.parse('9007199254740993') as number), 2n ** 53n + 1n);
  });

  it("with bigints: 'all', returns every integer literal as a bigint and other numbers as numbers", () => {
    assert.deepEqual(parseJson('[0,1,-5,1.0,1e0,2.5]', { bigints: 'all' }), [
      0n,
      1n,
      -5n,
      1,
      1,
      2.5,
    ]);
  });

  it('keeps numbers with a fraction or exponent as numbers even when large', () => {
    assert.equal(parseJson('1e400'), Infinity);
    assert.equal(parseJson('18446744073709551616.0'), 18446744073709551616);
  });

  it(`refuses an integer literal longer than ${MAX_INTEGER_LITERAL_LENGTH} characters outside the safe range`, () => {
    rejects('9'.repeat(MAX_INTEGER_LITERAL_LENGTH + 1), 'integer-too-long');
    rejects(`-${'9'.repeat(MAX_INTEGER_LITERAL_LENGTH)}`, 'integer-too-long');
  });

  it(`accepts an integer literal of exactly ${MAX_INTEGER_LITERAL_LENGTH} characters (positive control)`, () => {
    const literal = '9'.repeat(MAX_INTEGER_LITERAL_LENGTH);
    assert.equal(parseJson(literal), BigInt(literal));
  });

  it('accepts a very long float literal (converted in linear time, as JSON.parse does)', () => {
    const literal = `1.${'0'.repeat(10_000)}1`;
    assert.equal(parseJson(literal), JSON.parse(literal));
  });
});

describe('parseJson: bounds', () => {
  const nested = (depth: number, open = '[', close = ']'): string =>
    open.repeat(depth) + close.repeat(depth);

  it(`accepts nesting of exactly ${DEFAULT_MAX_DEPTH} levels (positive control)`, () => {
    assert.ok(Array.isArray(parseJson(nested(DEFAULT_MAX_DEPTH))));
    const objects = parseJson(
      `${'{"a":'.repeat(DEFAULT_MAX_DEPTH - 1)}[]${'}'.repeat(DEFAULT_MAX_DEPTH - 1)}`,
    );
    assert.equal(typeof objects, 'object');
    assert.ok(!Array.isArray(objects));
  });

  it(`rejects nesting of ${DEFAULT_MAX_DEPTH + 1} levels, for arrays and objects`, () => {
    rejects(nested(DEFAULT_MAX_DEPTH + 1), 'depth');
    rejects(`${'{"a":'.repeat(DEFAULT_MAX_DEPTH)}[]${'}'.repeat(DEFAULT_MAX_DEPTH)}`, 'depth');
  });

  it('honours a custom depth', () => {
    rejects('[[1]]', 'depth', { maxDepth: 1 });
    assert.deepEqual(parseJson('[1]', { maxDepth: 1 }), [1]);
  });

  it('does not overflow the stack on 100 000 levels when the bound allows them', () => {
    const value = parseJson(nested(100_000), { maxDepth: 1_000_000 });
    let depth = 0;
    let current: unknown = value;
    while (Array.isArray(current) && current.length > 0) {
      current = current[0];
      depth++;
    }
    assert.equal(depth, 99_999);
  });

  it('rejects input longer than maxLength, counting bytes for bytes', () => {
    rejects('[1, 2]', 'size', { maxLength: 5 });
    rejects(new TextEncoder().encode('"éé"'), 'size', { maxLength: 5 });
  });

  it('accepts input of exactly maxLength (positive control)', () => {
    assert.deepEqual(parseJson('[1,2]', { maxLength: 5 }), [1, 2]);
    assert.equal(parseJson(new TextEncoder().encode('"éé"'), { maxLength: 6 }), 'éé');
  });
});

describe('parseJson: bytes', () => {
  it('rejects malformed UTF-8', () => {
    rejects(Uint8Array.from([0x22, 0xc3, 0x28, 0x22]), 'encoding');
    rejects(Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'encoding'); // encoded surrogate
    rejects(Uint8Array.from([0x22, 0xc0, 0xaf, 0x22]), 'encoding'); // overlong '/'
  });

  it('decodes well-formed UTF-8 (positive control) and drops a leading byte order mark', () => {
    assert.equal(parseJson(Uint8Array.from([0x22, 0xc3, 0xa9, 0x22])), 'é');
    assert.deepEqual(parseJson(Uint8Array.from([0xef, 0xbb, 0xbf, 0x5b, 0x5d])), []);
  });
});

describe('parseJson: properties', () => {
  it('parses any JSON document like JSON.parse', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 5, stringUnit: 'binary' }), (text) => {
        assert.deepEqual(normalize(parseJson(text)), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips any JSON value written by JSON.stringify with indentation', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value, null, 2);
        assert.deepEqual(normalize(parseJson(text)), JSON.parse(text));
      }),
      { numRuns: 200 },
    );
  });

  /** Strings that are often almost JSON: built from JSON tokens and a few stray characters. */
  const jsonish = fc
    .array(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        ':',
        ',',
        '"',
        '"a"',
        '"b"',
        '\\',
        '\\u00',
        'u',
        '0',
        '1',
        '-',
        '.',
        'e',
        '+',
        'true',
        'null',
        'fals',
        ' ',
        '\n',
        '\t',
        '\u0001',
        'x',
        '\u00a0',
        '"\\n"',
        '1e5',
        '07',
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join(''));

  const mutatedJson = fc
    .tuple(
      fc.json({ maxDepth: 4 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom('', ',', '"', '}', ']', '0', ' ', '\\'),
    )
    .map(([text, a, b, insert]) => {
      const i = a % (text.length + 1);
      const j = Math.min(text.length, i + (b % 3));
      return text.slice(0, i) + insert + text.slice(j);
    });

  it('accepts and rejects what JSON.parse does, apart from its extra rules', () => {
    fc.assert(
      fc.property(fc.oneof(jsonish, mutatedJson, fc.string()), (text) => {
        const ours = reasonOf(() => parseJson(text));
        const theirs = jsonParseAccepts(text);
        if (ours === undefined) {
          assert.ok(theirs, 'we accepted a text JSON.parse rejects');
          assert.deepEqual(normalize(parseJson(text)), JSON.parse(text));
        } else if (ours === 'syntax') {
          assert.equal(theirs, false, 'we rejected a text JSON.parse accepts');
        } else {
          // duplicate keys, depth, size and integer length are this parser's own rules.
          assert.ok(['duplicate-key', 'depth', 'size', 'integer-too-long'].includes(ours));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws nothing but JsonParseError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        reasonOf(() => parseJson(bytes));
      }),
      { numRuns: 1000 },
    );
  });
});
