import { InvalidBundleError, InvalidTrustDomainError } from '../errors.js';
import { TrustDomain } from '../spiffeid/index.js';
import { isJsonObject, parseJsonDocument, quote } from './jwk.js';
import { spiffeBundleFromDocument, type SpiffeBundle } from './spiffe-bundle.js';
import { SpiffeBundleSet } from './spiffe-bundle-set.js';

/**
 * Parses a SPIFFE bundle map: a JSON object whose member names are trust domains and whose values
 * are SPIFFE bundle documents, such as `{"example.org":{"keys":[…]},"partner.org":{"keys":[…]}}`.
 * This is how several trust domains' bundles travel together (for example federated bundles
 * exported by a SPIRE server). Each value follows every rule of {@link SpiffeBundle.parse}.
 *
 * A member name is a trust domain name (`example.org`) or, as the Workload API keys federated
 * bundles, the trust domain's SPIFFE ID (`spiffe://example.org`, no path). Throws
 * {@link InvalidBundleError} for an invalid trust domain, for a trust domain named twice (including
 * `example.org` next to `spiffe://example.org`, and exact duplicate member names, which
 * `JSON.parse` would silently collapse), and for any invalid bundle, naming the trust domain.
 * The whole document is at most {@link MAX_BUNDLE_DOCUMENT_SIZE} bytes.
 *
 * @example
 * ```ts
 * import { parseSpiffeBundleMap } from 'spiffe-sdk/bundle';
 *
 * const set = parseSpiffeBundleMap(await fs.readFile('federated-bundles.json'));
 * set.getX509BundleForTrustDomain(TrustDomain.parse('partner.org'));
 * ```
 */
export function parseSpiffeBundleMap(json: string | Uint8Array): SpiffeBundleSet {
  const what = 'SPIFFE bundle map';
  const doc = parseJsonDocument(json, what);
  if (!isJsonObject(doc)) {
    throw new InvalidBundleError(
      `cannot parse ${what}: expected a JSON object from trust domain to SPIFFE bundle`,
    );
  }
  const bundles: SpiffeBundle[] = [];
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(doc)) {
    let trustDomain: TrustDomain;
    try {
      trustDomain = TrustDomain.parse(key);
    } catch (err) {
      if (err instanceof InvalidTrustDomainError) {
        throw new InvalidBundleError(
          `cannot parse ${what}: member ${quote(key)} is not a trust domain: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    }
    if (key !== trustDomain.name && key !== trustDomain.idString()) {
      throw new InvalidBundleError(
        `cannot parse ${what}: member ${quote(key)} must be a trust domain name or the SPIFFE ID of a trust domain, without a path`,
      );
    }
    const previous = seen.get(trustDomain.name);
    if (previous !== undefined) {
      throw new InvalidBundleError(
        `cannot parse ${what}: members ${quote(previous)} and ${quote(key)} name the same trust domain`,
      );
    }
    seen.set(trustDomain.name, key);
    bundles.push(
      spiffeBundleFromDocument(
        trustDomain,
        value ?? null,
        `${what}: bundle for trust domain "${trustDomain.name}"`,
      ),
    );
  }
  return new SpiffeBundleSet(bundles);
}

/**
 * Writes a SPIFFE bundle map: a JSON object from trust domain name to the bundle's
 * {@link SpiffeBundle.marshal} document, sorted by trust domain name, so equal sets give equal
 * text. An empty set gives `{}`. {@link parseSpiffeBundleMap} reads it back.
 *
 * @example
 * ```ts
 * import { marshalSpiffeBundleMap } from 'spiffe-sdk/bundle';
 *
 * await fs.writeFile('federated-bundles.json', marshalSpiffeBundleMap(set));
 * ```
 */
export function marshalSpiffeBundleMap(set: SpiffeBundleSet): string {
  const members = set.bundles().map((b) => `${JSON.stringify(b.trustDomain.name)}:${b.marshal()}`);
  return `{${members.join(',')}}`;
}
