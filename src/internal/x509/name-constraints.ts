/**
 * RFC 5280 §4.2.1.10 name constraints for the two name forms SPIFFE cares about: URIs (the SPIFFE
 * ID) and DNS names. Other forms are not checked; the verifier rejects CAs that use them.
 */
import type { NameConstraintsFacts } from './facts.js';

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;

/** Lower-cased labels of a DNS name (a leading `*.` wildcard is allowed), or `undefined` if malformed. */
function dnsLabels(name: string, allowWildcard: boolean): string[] | undefined {
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.toLowerCase().split('.');
  for (const [i, label] of labels.entries()) {
    if (i === 0 && allowWildcard && label === '*' && labels.length > 1) continue;
    if (label.length > 63 || !DNS_LABEL.test(label)) return undefined;
  }
  return labels;
}

/**
 * Whether DNS `name` lies in the DNS subtree `constraint`: `example.org` covers itself and every
 * name below it; `.example.org` covers only names below it; the empty constraint covers everything.
 */
export function dnsMatches(name: string, constraint: string): boolean {
  if (constraint === '') return true;
  const lowered = name.toLowerCase();
  const c = constraint.toLowerCase();
  if (c.startsWith('.')) return lowered.endsWith(c) && lowered.length > c.length;
  return lowered === c || lowered.endsWith(`.${c}`);
}

/**
 * Whether a URI host lies in the URI constraint: RFC 5280 says a constraint starting with a period
 * names subdomains only, and any other constraint names exactly that host.
 */
export function uriHostMatches(host: string, constraint: string): boolean {
  const h = host.toLowerCase();
  const c = constraint.toLowerCase();
  if (c.startsWith('.')) return h.endsWith(c) && h.length > c.length;
  return h === c;
}

/**
 * The host of a URI (`scheme://host[:port]/…`), lower-cased, or `undefined` when there is no
 * host that a constraint could be checked against (no authority, userinfo, an IP literal).
 */
export function uriHost(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  const authority = m?.[1];
  if (authority === undefined || authority === '' || authority.includes('@')) return undefined;
  if (authority.startsWith('[')) return undefined;
  const host = authority.replace(/:[0-9]*$/, '');
  if (/^[0-9.]+$/.test(host)) return undefined;
  return dnsLabels(host, false) === undefined ? undefined : host.toLowerCase();
}

/**
 * Why the names violate the constraints, or `undefined` when they comply. Callers must reject the
 * constraints outright when `uncheckedForms` is not empty.
 */
export function nameConstraintViolation(
  constraints: NameConstraintsFacts,
  uris: readonly string[],
  dnsNames: readonly string[],
): string | undefined {
  const hasUriConstraints =
    constraints.permittedUri.length > 0 || constraints.excludedUri.length > 0;
  if (hasUriConstraints) {
    for (const uri of uris) {
      const host = uriHost(uri);
      if (host === undefined) {
        return `URI SAN "${uri}" has no host that URI name constraints can be checked against`;
      }
      if (constraints.excludedUri.some((c) => uriHostMatches(host, c))) {
        return `URI SAN "${uri}" is in an excluded subtree`;
      }
      if (
        constraints.permittedUri.length > 0 &&
        !constraints.permittedUri.some((c) => uriHostMatches(host, c))
      ) {
        return `URI SAN "${uri}" is not in any permitted subtree (${constraints.permittedUri.join(', ')})`;
      }
    }
  }
  const hasDnsConstraints =
    constraints.permittedDns.length > 0 || constraints.excludedDns.length > 0;
  if (hasDnsConstraints) {
    for (const name of dnsNames) {
      if (dnsLabels(name, true) === undefined) {
        return `DNS SAN ${JSON.stringify(name)} is not a valid DNS name, so DNS name constraints cannot be checked`;
      }
      if (constraints.excludedDns.some((c) => dnsMatches(name, c))) {
        return `DNS SAN "${name}" is in an excluded subtree`;
      }
      if (
        constraints.permittedDns.length > 0 &&
        !constraints.permittedDns.some((c) => dnsMatches(name, c))
      ) {
        return `DNS SAN "${name}" is not in any permitted subtree (${constraints.permittedDns.join(', ')})`;
      }
    }
  }
  return undefined;
}
