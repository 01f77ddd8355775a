// express, fastify and undici are optional peer dependencies: the compiled http, express and
// fastify modules must not load them at run time (type-only imports are erased by the compiler).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const distSrc = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const PEER_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](express|fastify|undici)['"]/m;

describe('optional peers', () => {
  for (const layer of ['http', 'express', 'fastify']) {
    it(`the compiled ${layer} modules import no optional peer at run time`, () => {
      const files = readdirSync(join(distSrc, layer)).filter((f) => f.endsWith('.js'));
      assert.ok(files.includes('index.js'));
      for (const file of files) {
        // Drop comments: TSDoc examples import the frameworks.
        const code = readFileSync(join(distSrc, layer, file), 'utf8').replace(
          /\/\*[\s\S]*?\*\/|\/\/.*$/gm,
          '',
        );
        assert.doesNotMatch(code, PEER_IMPORT, `${layer}/${file}`);
      }
    });
  }

  it('detects a runtime import (control)', () => {
    assert.match("import { Router } from 'express';", PEER_IMPORT);
    assert.match("const f = await import('fastify');", PEER_IMPORT);
    assert.match("import 'undici';", PEER_IMPORT);
  });
});
