// tls-in-node.md §8 cases 1-9, end to end over loopback in both roles and both TLS versions:
// the peer's X509-SVID must verify against the bundle of ITS OWN trust domain, even though
// OpenSSL's store (the union of all bundles) accepts it.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import { PeerUnauthorizedError, X509SvidVerificationError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/index.js';
import {
  authorizeAny,
  authorizeId,
  connect,
  createTlsServer,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  staticX509Source,
} from '../../src/tls/index.js';
import {
  close,
  listen,
  type Outcome,
  outcome,
  pem,
  pems,
  plainConnect,
  serverSeesClientIntermediates,
  type Version,
  VERSIONS,
  type World,
  world,
} from './helpers.js';

interface Material {
  readonly key: string;
  readonly cert: string;
}

interface Expectation {
  /** The SPIFFE ID the SDK must report, or undefined when the peer must be refused. */
  readonly id?: string;
  /** For refusals: the error the SDK reports (client role) or passes to onReject (server role). */
  readonly error?: RegExp;
}

interface Case {
  readonly name: string;
  readonly material: (w: World, extra: Extra) => Material;
  readonly expect: Expectation;
  /**
   * The client sends intermediates that the server must see; on Node versions that drop them
   * (nodejs/node#65579) the server refuses the client and says why.
   */
  readonly clientSendsIntermediates?: boolean;
  /** Bundles the SDK side trusts (default: a.org + b.org). */
  readonly bundles?: (w: World, extra: Extra) => X509BundleSet;
}

interface Extra {
  readonly inter: { key: string; cert: string; leafOnly: Material };
  readonly twoUris: Material;
  readonly noUri: Material;
  readonly leafCa: Material;
  readonly leafCertSign: Material;
  readonly leafCrlSign: Material;
  readonly malformed: ReadonlyMap<string, Material>;
  readonly dnsInjection: Material;
  readonly uriInjection: Material;
  readonly legitLeafAsIssuer: Material;
  readonly expiredLeaf: Material;
  readonly futureLeaf: Material;
  readonly expiredIntermediate: Material;
  readonly paddedSameDn: Material;
  readonly sameDnBundles: X509BundleSet;
  readonly noBundleTd: Material;
  readonly rotated: { old: Material; current: Material; bundles: X509BundleSet };
  readonly anchorIsIntermediate: { material: Material; bundles: X509BundleSet };
}

const MALFORMED_IDS = [
  'spiffe://A.org/x',
  'spiffe://a.org//x',
  'spiffe://a.org/./x',
  'spiffe://a.org/%41',
  'spiffe://a.org:8080/x',
  'spiffe://u@a.org/x',
  'spiffe://a.org/x?q=1',
  'spiffe://a.org/x#f',
  'spiffe://a.org/x/',
  'spiffe:///x',
  'spiffe://a.org',
];

function raw(r: { privateKeyPem: string; certificatesPem: string }): Material {
  return { key: r.privateKeyPem, cert: r.certificatesPem };
}

async function makeExtra(w: World): Promise<Extra> {
  const { a, b } = w;
  const inter = await a.createIntermediate();
  const viaInter = await a.issueX509Svid('spiffe://a.org/via-inter', { issuer: inter });
  const interPem = pem(viaInter);
  const leafOnlyPem = { key: interPem.key, cert: viaInter.certificates[0]!.toString() };

  const malformed = new Map<string, Material>();
  for (const id of MALFORMED_IDS) {
    malformed.set(id, raw(await a.issueX509SvidUnchecked({ uris: [id] })));
  }

  // §1.3: an attacker holding b.org's CA and an a.org workload key. b.org certifies the workload's
  // key as a CA (same subject DN), the key signs an a.org/admin leaf, and the attacker also sends
  // the real (non-CA) a.org workload certificate. OpenSSL accepts the path through b.org; a JS
  // check that only verified signatures would accept the path through the workload leaf.
  const workload = await a.createIntermediate({
    basicConstraints: { ca: false },
    keyUsage: ['digitalSignature'],
    uri: 'spiffe://a.org/workload',
    subject: 'O=SPIFFE, CN=workload',
  });
  const crossSigned = await b.createIntermediate({
    reuseKeyOf: workload,
    subject: 'O=SPIFFE, CN=workload',
    uri: false,
  });
  const admin = await a.issueX509SvidUnchecked({
    uris: ['spiffe://a.org/admin'],
    issuer: workload,
    chain: [workload.certificate, crossSigned.certificate],
  });

  // §8 case 8: b.org-like CA whose root has the same DN as a.org's root.
  const twin = await TestCA.create({
    trustDomain: 'b.org',
    rootSubject: a.rootCertificate.certificate.subject.split('\n').join(', '),
  });
  const twinForged = await a.issueX509SvidUnchecked({
    uris: ['spiffe://a.org/x'],
    issuer: twin.signingCertificate,
    chain: [a.rootCertificate.certificate, twin.rootCertificate.certificate],
  });

  const rotating = await TestCA.create({ trustDomain: 'a.org' });
  const oldSvid = await rotating.issueX509Svid('spiffe://a.org/old');
  const oldRoot = rotating.rootCertificate.certificate;
  await rotating.rotateX509Authority();
  rotating.retireOldX509Authorities();
  const newSvid = await rotating.issueX509Svid('spiffe://a.org/new');

  const anchorCa = await TestCA.create({ trustDomain: 'a.org', intermediates: 1 });
  const underInter = await anchorCa.issueX509Svid('spiffe://a.org/under-inter');

  return {
    inter: { ...interPem, leafOnly: leafOnlyPem },
    twoUris: raw(
      await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x', 'spiffe://a.org/y'] }),
    ),
    noUri: raw(await a.issueX509SvidUnchecked({ uris: [] })),
    leafCa: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/ca-leaf'],
        basicConstraints: { ca: true },
        keyUsage: ['digitalSignature', 'keyCertSign'],
      }),
    ),
    leafCertSign: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        keyUsage: ['digitalSignature', 'keyCertSign'],
      }),
    ),
    leafCrlSign: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        keyUsage: ['digitalSignature', 'cRLSign'],
      }),
    ),
    malformed,
    dnsInjection: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/lowpriv'],
        dnsNames: ['x.example, URI:spiffe://a.org/admin'],
      }),
    ),
    uriInjection: raw(
      await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x, URI:spiffe://a.org/admin'] }),
    ),
    legitLeafAsIssuer: raw(admin),
    paddedSameDn: raw(twinForged),
    sameDnBundles: X509BundleSet.of(a.x509Bundle(), twin.x509Bundle()),
    noBundleTd: raw(await a.issueX509SvidUnchecked({ uris: ['spiffe://c.org/x'] })),
    expiredLeaf: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        notBefore: new Date(Date.now() - 7_200_000),
        notAfter: new Date(Date.now() - 3_600_000),
      }),
    ),
    futureLeaf: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        notBefore: new Date(Date.now() + 3_600_000),
        notAfter: new Date(Date.now() + 7_200_000),
      }),
    ),
    expiredIntermediate: raw(
      await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: await a.createIntermediate({
          notBefore: new Date(Date.now() - 7_200_000),
          notAfter: new Date(Date.now() - 3_600_000),
        }),
        notBefore: new Date(Date.now() - 7_000_000),
        notAfter: new Date(Date.now() + 3_600_000),
      }),
    ),
    rotated: {
      old: pem(oldSvid),
      current: pem(newSvid),
      // b.org also trusts the retired root: OpenSSL accepts the old SVID, only the TD binding refuses it.
      bundles: X509BundleSet.of(
        rotating.x509Bundle(),
        X509Bundle.fromAuthorities(TrustDomain.parse('b.org'), [...w.b.x509Authorities, oldRoot]),
      ),
    },
    anchorIsIntermediate: {
      material: { key: pem(underInter).key, cert: underInter.certificates[0]!.toString() },
      bundles: X509BundleSet.of(
        X509Bundle.fromAuthorities(TrustDomain.parse('a.org'), anchorCa.intermediates),
      ),
    },
  };
}

const CASES: readonly Case[] = [
  {
    name: '1. leaf → root of its own trust domain',
    material: (w) => pem(w.cliA),
    expect: { id: 'spiffe://a.org/client' },
  },
  {
    name: '1. leaf → intermediate → root',
    material: (_w, x) => x.inter,
    clientSendsIntermediates: true,
    expect: { id: 'spiffe://a.org/via-inter' },
  },
  {
    name: '1. the same leaf without its intermediate',
    material: (_w, x) => x.inter.leafOnly,
    expect: {},
  },
  {
    name: '2. control: b.org peer under the union store',
    material: (w) => pem(w.cliB),
    expect: { id: 'spiffe://b.org/client' },
  },
  {
    name: '2. cross-trust-domain forgery (a.org ID signed by b.org)',
    material: (w) => raw(w.evilCliA),
    expect: { error: /unknown authority \(trust domain "a\.org"\)/ },
  },
  {
    name: '3. leaf of a trust domain without a bundle (signed by a trusted CA)',
    material: (_w, x) => x.noBundleTd,
    expect: { error: /c\.org/ },
  },
  {
    name: '3. control: SVID of the current root after rotation',
    material: (_w, x) => x.rotated.current,
    bundles: (_w, x) => x.rotated.bundles,
    expect: { id: 'spiffe://a.org/new' },
  },
  {
    name: '3. SVID of an authority rotated out of its bundle (still in the union store)',
    material: (_w, x) => x.rotated.old,
    bundles: (_w, x) => x.rotated.bundles,
    expect: { error: /unknown authority/ },
  },
  {
    name: '4. leaf with CA:TRUE',
    material: (_w, x) => x.leafCa,
    expect: { error: /with CA flag set to true/ },
  },
  {
    name: '4. leaf with keyCertSign',
    material: (_w, x) => x.leafCertSign,
    expect: { error: /with KeyCertSign key usage/ },
  },
  {
    name: '4. leaf with cRLSign',
    material: (_w, x) => x.leafCrlSign,
    expect: { error: /with KeyCrlSign key usage/ },
  },
  {
    name: '4. leaf without URI SAN',
    material: (_w, x) => x.noUri,
    expect: { error: /no URI SAN/ },
  },
  {
    name: '4. leaf with two URI SANs',
    material: (_w, x) => x.twoUris,
    expect: { error: /more than one URI SAN/ },
  },
  ...MALFORMED_IDS.map((id): Case => ({
    name: `5. malformed SPIFFE ID ${id}`,
    material: (_w, x) => x.malformed.get(id)!,
    expect: { error: /SPIFFE ID|non-root path/ },
  })),
  {
    name: '6. DNS SAN injecting ", URI:spiffe://a.org/admin": the ID is the real URI SAN',
    material: (_w, x) => x.dnsInjection,
    expect: { id: 'spiffe://a.org/lowpriv' },
  },
  {
    name: '6. URI SAN injecting ", URI:…"',
    material: (_w, x) => x.uriInjection,
    expect: { error: /SPIFFE ID/ },
  },
  {
    name: '7. legit a.org leaf used as an issuer (cross-signed by b.org)',
    material: (_w, x) => x.legitLeafAsIssuer,
    expect: { error: /./ },
  },
  { name: '7. expired leaf', material: (_w, x) => x.expiredLeaf, expect: {} },
  { name: '7. leaf not yet valid', material: (_w, x) => x.futureLeaf, expect: {} },
  { name: '7. expired intermediate', material: (_w, x) => x.expiredIntermediate, expect: {} },
  {
    name: '8. chain padded with a same-DN root of another trust domain',
    material: (_w, x) => x.paddedSameDn,
    bundles: (_w, x) => x.sameDnBundles,
    expect: { error: /unknown authority|could not verify/ },
  },
  {
    name: '9. bundle authority that is an intermediate (not self-signed)',
    material: (_w, x) => x.anchorIsIntermediate.material,
    bundles: (_w, x) => x.anchorIsIntermediate.bundles,
    expect: { id: 'spiffe://a.org/under-inter' },
  },
];

let w: World;
let extra: Extra;

before(async () => {
  w = await world();
  extra = await makeExtra(w);
});

/** The SDK as server; `material` is what a plain client presents. */
async function asServer(
  version: Version,
  c: Case,
): Promise<{ result: Outcome; handled: number; rejects: Error[] }> {
  const rejects: Error[] = [];
  let handled = 0;
  const bundles = c.bundles?.(w, extra) ?? w.bundles;
  const server = createTlsServer(
    mtlsServer(staticX509Source(w.srvA, bundles), authorizeAny(), {
      onReject: (err) => rejects.push(err),
    }),
    {},
    (socket) => {
      handled += 1;
      socket.end(`${peerIdOf(socket)?.toString() ?? 'none'}\n`);
    },
  );
  const port = await listen(server);
  try {
    const m = c.material(w, extra);
    // The plain client trusts the SDK server's own CA plus every authority of the case.
    const ca = pems([...w.a.x509Authorities, ...bundlesCerts(bundles)]);
    const socket = plainConnect(port, { ...m, ca, version });
    const result = await outcome(socket);
    return { result, handled, rejects };
  } finally {
    await close(server);
  }
}

function bundlesCerts(set: X509BundleSet): X509Certificate[] {
  return set.bundles().flatMap((b) => [...b.x509Authorities]);
}

/** The SDK as client; `material` is what a plain server presents. */
async function asClient(
  version: Version,
  c: Case,
): Promise<{ result: Outcome; id: string | undefined }> {
  const m = c.material(w, extra);
  const server = tls.createServer({ ...m, minVersion: version, maxVersion: version }, (s) => {
    s.end('hello\n');
  });
  const port = await listen(server);
  try {
    const bundles = c.bundles?.(w, extra) ?? w.bundles;
    const socket = connect(mtlsClient(staticX509Source(w.cliA, bundles), authorizeAny()), {
      host: '127.0.0.1',
      port,
    });
    let id: string | undefined;
    socket.once('secureConnect', () => {
      id = peerIdOf(socket)?.toString();
    });
    const result = await outcome(socket);
    return { result, id };
  } finally {
    await close(server);
  }
}

for (const version of VERSIONS) {
  describe(`peer X509-SVID verification over ${version}`, () => {
    for (const c of CASES) {
      it(`server role: ${c.name}`, async () => {
        const { result, handled, rejects } = await asServer(version, c);
        if (c.clientSendsIntermediates === true && !(await serverSeesClientIntermediates())) {
          assert.equal(result.ok, false, 'refused: this Node version hides the intermediates');
          assert.match(rejects[0]?.message ?? '', /nodejs\/node#65579/);
          return;
        }
        if (c.expect.id !== undefined) {
          assert.deepEqual(result, { ok: true, data: `${c.expect.id}\n` });
          assert.equal(handled, 1);
        } else {
          assert.equal(result.ok, false, 'the server must refuse the client');
          assert.equal(handled, 0, 'the listener must never see a refused client');
          if (c.expect.error !== undefined && rejects.length > 0) {
            assert.match(rejects[0]!.message, c.expect.error);
          }
        }
      });

      it(`client role: ${c.name}`, async () => {
        const { result, id } = await asClient(version, c);
        if (c.expect.id !== undefined) {
          assert.deepEqual(result, { ok: true, data: 'hello\n' });
          assert.equal(id, c.expect.id);
        } else {
          assert.equal(result.ok, false, 'the client must refuse the server');
          assert.ok(result.error !== undefined);
          if (c.expect.error !== undefined && result.error instanceof X509SvidVerificationError) {
            assert.match(result.error.message, c.expect.error);
          }
        }
      });
    }
  });
}

describe('cross-trust-domain forgery is refused by the JS check, not by OpenSSL', () => {
  it('the forged chain passes OpenSSL with the union store (so the JS rule is what refuses it)', async () => {
    const server = tls.createServer({ ...pem(w.evilSrvA) }, (s) => s.end('hello\n'));
    const port = await listen(server);
    try {
      const plain = plainConnect(port, { ca: pems(bundlesCerts(w.bundles)) });
      assert.deepEqual(await outcome(plain), { ok: true, data: 'hello\n' });
      const sdk = connect(mtlsClient(staticX509Source(w.cliA, w.bundles), authorizeAny()), {
        host: '127.0.0.1',
        port,
      });
      const result = await outcome(sdk);
      assert.equal(result.ok, false);
      assert.ok(result.error instanceof X509SvidVerificationError);
      assert.match(result.error.message, /unknown authority \(trust domain "a\.org"\)/);
    } finally {
      await close(server);
    }
  });

  it('an authorizer for the forged ID never sees it; the real server is accepted', async () => {
    let seen = 0;
    const real = tls.createServer({ ...pem(w.srvA) }, (s) => s.end('real\n'));
    const forged = tls.createServer({ ...pem(w.evilSrvA) }, (s) => s.end('forged\n'));
    const [realPort, forgedPort] = [await listen(real), await listen(forged)];
    try {
      const mode = mtlsClient(staticX509Source(w.cliA, w.bundles), (id, chains) => {
        seen += 1;
        return authorizeId('spiffe://a.org/server')(id, chains);
      });
      assert.deepEqual(await outcome(connect(mode, { host: '127.0.0.1', port: realPort })), {
        ok: true,
        data: 'real\n',
      });
      const bad = await outcome(connect(mode, { host: '127.0.0.1', port: forgedPort }));
      assert.equal(bad.ok, false);
      assert.equal(seen, 1);
    } finally {
      await close(real);
      await close(forged);
    }
  });

  it('the server-side authorizer error is a PeerUnauthorizedError carrying the peer ID', async () => {
    const rejects: Error[] = [];
    const server = createTlsServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeId('spiffe://a.org/client'), {
        onReject: (err) => rejects.push(err),
      }),
      {},
      (s) => s.end('ok\n'),
    );
    const port = await listen(server);
    try {
      const result = await outcome(
        plainConnect(port, { ...pem(w.cliB), ca: pems(bundlesCerts(w.bundles)) }),
      );
      assert.equal(result.ok, false);
      assert.equal(rejects.length, 1);
      assert.ok(rejects[0] instanceof PeerUnauthorizedError);
      assert.equal(rejects[0].peerId, 'spiffe://b.org/client');
    } finally {
      await close(server);
    }
  });
});
