// Builds the Workload API answers of WorkloadApiServer from an identity, and damages them on
// request. Internal to the test kit: only the server uses it.
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../bundle/source.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import { BundleNotFoundError } from '../errors.js';
import { SpiffeId } from '../spiffeid/index.js';
import { parseAndValidateJwtSvid } from '../svid/parse-jwt-svid.js';
import type {
  WorkloadApiIdentity,
  WorkloadApiJwtSvid,
  WorkloadApiMalformation,
  WorkloadApiMethod,
  WorkloadApiStatus,
} from './workload-api-server.js';
import type { WorkloadApiResponses } from './workload-api-wire.js';

/** An answer, or the status to end the call with. */
export type Result<T> =
  | { readonly ok: true; readonly response: T }
  | { readonly ok: false; readonly status: WorkloadApiStatus; readonly message: string };

export const NO_IDENTITY = 'no identity issued';
// A truncated DER SEQUENCE: no DER parser accepts it.
const BAD_DER = Uint8Array.of(0x30, 0x82, 0xff, 0xff, 0x00);
const BAD_JWKS = new TextEncoder().encode('not a JWKS document');
const BAD_TD_KEY = 'spiffe://Not Valid';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function x509BundleDer(bundle: X509Bundle): Uint8Array {
  return concat(bundle.x509Authorities.map((c) => c.raw));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function mapValues(
  map: Record<string, Uint8Array>,
  fn: (value: Uint8Array) => Uint8Array,
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(map)) out[k] = fn(v);
  return out;
}

function badKeys(map: Record<string, Uint8Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  Object.values(map).forEach((v, i) => (out[i === 0 ? BAD_TD_KEY : `${BAD_TD_KEY}${i}`] = v));
  return out;
}

const EMPTY = new Uint8Array(0);

export function malform<M extends WorkloadApiMethod>(
  kind: WorkloadApiMalformation,
  method: M,
  response: WorkloadApiResponses[M],
): WorkloadApiResponses[M] {
  // One switch per method keeps every (kind, method) pair visible; pairs not listed are no-ops.
  const r: WorkloadApiResponses[WorkloadApiMethod] = response;
  switch (method) {
    case 'FetchX509SVID': {
      const x = r as WorkloadApiResponses['FetchX509SVID'];
      if (kind === 'empty-svids') x.svids = [];
      for (const s of x.svids) {
        if (kind === 'empty-spiffe-id') s.spiffeId = '';
        if (kind === 'empty-x509-svid') s.x509Svid = EMPTY;
        if (kind === 'empty-key') s.x509SvidKey = EMPTY;
        if (kind === 'empty-bundle') s.bundle = EMPTY;
        if (kind === 'bad-der') {
          s.x509Svid = BAD_DER;
          s.x509SvidKey = BAD_DER;
          s.bundle = BAD_DER;
        }
      }
      if (kind === 'empty-bundle') x.federatedBundles = mapValues(x.federatedBundles, () => EMPTY);
      if (kind === 'bad-der') x.federatedBundles = mapValues(x.federatedBundles, () => BAD_DER);
      if (kind === 'no-bundles') x.federatedBundles = {};
      if (kind === 'bad-bundle-key') x.federatedBundles = badKeys(x.federatedBundles);
      break;
    }
    case 'FetchX509Bundles':
    case 'FetchJWTBundles': {
      const x = r as WorkloadApiResponses['FetchX509Bundles' | 'FetchJWTBundles'];
      const bad = method === 'FetchX509Bundles' ? 'bad-der' : 'bad-jwks';
      if (kind === 'empty-bundle') x.bundles = mapValues(x.bundles, () => EMPTY);
      if (kind === bad)
        x.bundles = mapValues(x.bundles, () => (kind === 'bad-der' ? BAD_DER : BAD_JWKS));
      if (kind === 'no-bundles') x.bundles = {};
      if (kind === 'bad-bundle-key') x.bundles = badKeys(x.bundles);
      break;
    }
    case 'FetchJWTSVID': {
      const x = r as WorkloadApiResponses['FetchJWTSVID'];
      if (kind === 'empty-svids') x.svids = [];
      for (const s of x.svids) {
        if (kind === 'empty-spiffe-id') s.spiffeId = '';
        if (kind === 'bad-token') s.svid = 'not-a-jwt';
      }
      break;
    }
    case 'ValidateJWTSVID': {
      const x = r as WorkloadApiResponses['ValidateJWTSVID'];
      if (kind === 'empty-spiffe-id') x.spiffeId = '';
      break;
    }
  }
  return r as WorkloadApiResponses[M];
}

function allX509Bundles(identity: WorkloadApiIdentity): X509Bundle[] {
  return [
    ...(identity.x509Bundle ? [identity.x509Bundle] : []),
    ...(identity.federatedX509Bundles ?? []),
  ];
}

function allJwtBundles(identity: WorkloadApiIdentity): JwtBundle[] {
  const own = identity.jwtBundle ?? identity.jwtAuthority?.jwtBundle();
  return [...(own ? [own] : []), ...(identity.federatedJwtBundles ?? [])];
}

export function x509SvidResponse(
  identity: WorkloadApiIdentity,
): Result<WorkloadApiResponses['FetchX509SVID']> {
  const svids = identity.x509Svids ?? [];
  if (svids.length === 0) return { ok: false, status: 'PermissionDenied', message: NO_IDENTITY };
  const bundles = allX509Bundles(identity);
  const federatedBundles: Record<string, Uint8Array> = {};
  for (const b of identity.federatedX509Bundles ?? []) {
    federatedBundles[b.trustDomain.idString()] = x509BundleDer(b);
  }
  return {
    ok: true,
    response: {
      svids: svids.map((svid) => {
        const raw = svid.marshalRaw();
        const bundle = bundles.find((b) => b.trustDomain.equals(svid.id.trustDomain));
        return {
          spiffeId: svid.id.toString(),
          x509Svid: raw.certificates,
          x509SvidKey: raw.privateKey,
          bundle: bundle ? x509BundleDer(bundle) : new Uint8Array(0),
          hint: svid.hint,
        };
      }),
      crl: (identity.crl ?? []).map((c) => new Uint8Array(c)),
      federatedBundles,
    },
  };
}

export function x509BundlesResponse(
  identity: WorkloadApiIdentity,
): Result<WorkloadApiResponses['FetchX509Bundles']> {
  const bundles = allX509Bundles(identity);
  if (bundles.length === 0) {
    return { ok: false, status: 'PermissionDenied', message: 'no X.509 bundles' };
  }
  const map: Record<string, Uint8Array> = {};
  for (const b of bundles) map[b.trustDomain.idString()] = x509BundleDer(b);
  return {
    ok: true,
    response: { crl: (identity.crl ?? []).map((c) => new Uint8Array(c)), bundles: map },
  };
}

export function jwtBundlesResponse(
  identity: WorkloadApiIdentity,
): Result<WorkloadApiResponses['FetchJWTBundles']> {
  const bundles = allJwtBundles(identity);
  if (bundles.length === 0) {
    return { ok: false, status: 'PermissionDenied', message: 'no JWT bundles' };
  }
  const map: Record<string, Uint8Array> = {};
  for (const b of bundles) map[b.trustDomain.idString()] = new TextEncoder().encode(b.marshal());
  return { ok: true, response: { bundles: map } };
}

export async function jwtSvidResponse(
  identity: WorkloadApiIdentity,
  request: { audience: readonly string[]; spiffeId: string },
): Promise<Result<WorkloadApiResponses['FetchJWTSVID']>> {
  // Workload API §4.5: a mandatory field at its default value is InvalidArgument. An empty
  // audience string is treated the same way: a token for audience "" authenticates to nobody.
  if (request.audience.length === 0 || request.audience.includes('')) {
    return { ok: false, status: 'InvalidArgument', message: 'audience must be specified' };
  }
  let wanted: SpiffeId | undefined;
  if (request.spiffeId !== '') {
    try {
      wanted = SpiffeId.parse(request.spiffeId);
    } catch (err) {
      return {
        ok: false,
        status: 'InvalidArgument',
        message: `invalid spiffe_id: ${messageOf(err)}`,
      };
    }
  }
  const authority = identity.jwtAuthority;
  const specs: readonly WorkloadApiJwtSvid[] =
    identity.jwtSvids ??
    (authority ? (identity.x509Svids ?? []).map((s) => ({ id: s.id, hint: s.hint })) : []);
  const chosen = specs
    .map((s) => ({ ...s, id: typeof s.id === 'string' ? SpiffeId.parse(s.id) : s.id }))
    .filter((s) => wanted === undefined || s.id.equals(wanted));
  if (chosen.length === 0) {
    const message = wanted ? `${NO_IDENTITY} for "${wanted.toString()}"` : NO_IDENTITY;
    return { ok: false, status: 'PermissionDenied', message };
  }
  const svids = [];
  for (const spec of chosen) {
    let token = spec.token;
    if (token === undefined) {
      if (authority === undefined) {
        return {
          ok: false,
          status: 'Internal',
          message: `no jwtAuthority to mint a JWT-SVID for "${spec.id.toString()}"`,
        };
      }
      token = await authority.mint({ subject: spec.id, audience: [...request.audience] });
    }
    svids.push({ spiffeId: spec.id.toString(), svid: token, hint: spec.hint ?? '' });
  }
  return { ok: true, response: { svids } };
}

export async function validateResponse(
  identity: WorkloadApiIdentity,
  request: { audience: string; svid: string },
): Promise<Result<WorkloadApiResponses['ValidateJWTSVID']>> {
  if (request.audience === '') {
    return { ok: false, status: 'InvalidArgument', message: 'audience must be specified' };
  }
  if (request.svid === '') {
    return { ok: false, status: 'InvalidArgument', message: 'svid must be specified' };
  }
  const bundles = allJwtBundles(identity);
  const source: JwtBundleSource = {
    getJwtBundleForTrustDomain(td) {
      const bundle = bundles.find((b) => b.trustDomain.equals(td));
      if (bundle === undefined) throw new BundleNotFoundError(td.name, 'JWT');
      return bundle;
    },
  };
  try {
    const svid = await parseAndValidateJwtSvid(request.svid, source, request.audience);
    return {
      ok: true,
      response: { spiffeId: svid.id.toString(), claims: { ...svid.claims } },
    };
  } catch (err) {
    // The SDK's validation errors never contain the token, so the message is safe to return.
    return { ok: false, status: 'InvalidArgument', message: messageOf(err) };
  }
}
