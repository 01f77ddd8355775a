// Checks the published shape of the package after the build: every subpath of package.json
// `exports` resolves from ESM (import) and from CommonJS (require of ESM, Node 20.19+), and every
// `types` and `default` target exists. Subpaths are read from package.json, so new layers are
// covered as soon as they are added there.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as SpiffeIdModule from '../../src/spiffeid/index.js';

type Conditions = string | { readonly [condition: string]: Conditions };

interface PackageJson {
  readonly name: string;
  readonly exports: Readonly<Record<string, Conditions>>;
  readonly main?: string;
  readonly types?: string;
}

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'package root not found above the test file');
    dir = parent;
  }
}

const root = findPackageRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
const require = createRequire(join(root, 'package.json'));

/** Every file target under `conditions`, as [condition path, target]. */
function targets(conditions: Conditions, at: string[] = []): [string, string][] {
  if (typeof conditions === 'string') return [[at.join('.') || 'default', conditions]];
  return Object.entries(conditions).flatMap(([k, v]) => targets(v, [...at, k]));
}

/** TypeScript picks the first matching condition, so "types" must come first at each level. */
function assertTypesFirst(conditions: Conditions, where: string): void {
  if (typeof conditions === 'string') return;
  const keys = Object.keys(conditions);
  if (keys.includes('types')) assert.equal(keys[0], 'types', `${where}: "types" must come first`);
  for (const [k, v] of Object.entries(conditions)) assertTypesFirst(v, `${where}.${k}`);
}

function specifier(subpath: string): string {
  return subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
}

const codeSubpaths = Object.keys(pkg.exports).filter((s) => !s.endsWith('.json'));

describe('package.json exports', () => {
  it('is named spiffe-sdk and exports the root and spiffeid', () => {
    assert.equal(pkg.name, 'spiffe-sdk');
    assert.ok(codeSubpaths.includes('.'));
    assert.ok(codeSubpaths.includes('./spiffeid'));
    assert.ok(Object.keys(pkg.exports).every((s) => s === '.' || s.startsWith('./')));
    assert.ok(
      Object.keys(pkg.exports).every((s) => !s.includes('*')),
      'no wildcard subpaths: every public entry point is listed',
    );
  });

  for (const subpath of Object.keys(pkg.exports)) {
    const entry = pkg.exports[subpath]!;
    describe(`"${subpath}"`, () => {
      it('every target file exists, and code subpaths have types and default', () => {
        const all = targets(entry);
        assert.ok(all.length > 0);
        for (const [condition, target] of all) {
          assert.ok(target.startsWith('./'), `${condition}: ${target} must be relative`);
          assert.ok(
            existsSync(resolve(root, target)),
            `${subpath} ${condition}: ${target} is missing`,
          );
        }
        if (subpath.endsWith('.json')) return;
        const last = (condition: string): string => condition.split('.').at(-1)!;
        const types = all.filter(([c]) => last(c) === 'types').map(([, t]) => t);
        const code = all.filter(([c]) => last(c) !== 'types').map(([, t]) => t);
        assert.ok(types.length > 0, `${subpath} needs a "types" target`);
        assert.ok(
          all.some(([c]) => last(c) === 'default'),
          `${subpath} needs a "default" target`,
        );
        for (const t of types) assert.match(t, /\.d\.[mc]?ts$/, `${subpath} types: ${t}`);
        for (const t of code) assert.match(t, /\.[mc]?js$/, `${subpath} code: ${t}`);
        assertTypesFirst(entry, subpath);
      });

      if (subpath.endsWith('.json')) return;

      it(`resolves with import('${specifier(subpath)}')`, async () => {
        const mod = (await import(specifier(subpath))) as Record<string, unknown>;
        assert.ok(Object.keys(mod).length > 0, 'the module exports something');
        const dflt = targets(entry).find(([c]) => c === 'default' || c.endsWith('.default'))![1];
        const direct = (await import(pathToFileURL(resolve(root, dflt)).href)) as Record<
          string,
          unknown
        >;
        assert.equal(mod, direct, 'the specifier resolves to the "default" target');
      });

      it(`resolves with require('${specifier(subpath)}')`, async () => {
        const viaRequire = require(specifier(subpath)) as Record<string, unknown>;
        const viaImport = (await import(specifier(subpath))) as Record<string, unknown>;
        assert.deepEqual(Object.keys(viaRequire).sort(), Object.keys(viaImport).sort());
        for (const key of Object.keys(viaImport)) {
          assert.equal(viaRequire[key], viaImport[key], `${key} is the same binding`);
        }
      });
    });
  }

  it('blocks deep imports of files that are not in exports', async () => {
    await assert.rejects(
      import(`${pkg.name}/dist/src/spiffeid/parse.js`),
      (err: NodeJS.ErrnoException) => err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    );
    assert.throws(
      () => require(`${pkg.name}/dist/src/spiffeid/parse.js`),
      (err: NodeJS.ErrnoException) => err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    );
  });

  it('main and types point at the root entry point', () => {
    const rootTargets = targets(pkg.exports['.']!).map(([, t]) => resolve(root, t));
    assert.ok(pkg.main !== undefined && rootTargets.includes(resolve(root, pkg.main)));
    assert.ok(pkg.types !== undefined && rootTargets.includes(resolve(root, pkg.types)));
  });
});

describe('root module', () => {
  it('re-exports the whole spiffeid API as the same bindings', async () => {
    const rootModule = (await import(pkg.name)) as Record<string, unknown>;
    const spiffeid = (await import(`${pkg.name}/spiffeid`)) as Record<string, unknown>;
    const expected = [
      'SpiffeId',
      'TrustDomain',
      'validatePath',
      'validatePathSegment',
      'matchAny',
      'matchId',
      'matchOneOf',
      'matchMemberOf',
      'MAX_SPIFFE_ID_LENGTH',
      'MAX_TRUST_DOMAIN_LENGTH',
      'InvalidSpiffeIdError',
      'InvalidTrustDomainError',
      'SpiffeError',
    ];
    for (const name of expected) assert.ok(name in spiffeid, `spiffe-sdk/spiffeid exports ${name}`);
    for (const name of Object.keys(spiffeid)) {
      assert.equal(rootModule[name], spiffeid[name], `spiffe-sdk re-exports ${name}`);
    }
  });

  it('works end to end through the package name, from ESM and CommonJS', async () => {
    const esm = (await import(`${pkg.name}/spiffeid`)) as typeof SpiffeIdModule;
    const cjs = require(`${pkg.name}/spiffeid`) as typeof SpiffeIdModule;
    const id = cjs.SpiffeId.parse('spiffe://example.org/web');
    assert.ok(id instanceof esm.SpiffeId, 'one module instance: no dual-package hazard');
    assert.equal(esm.matchMemberOf(esm.TrustDomain.parse('example.org'))(id), true);
    assert.throws(() => cjs.SpiffeId.parse('spiffe://Example.org'), esm.InvalidSpiffeIdError);
  });
});
