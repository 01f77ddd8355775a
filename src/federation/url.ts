// Bundle endpoint URLs (Federation §5.2.1.1, §5.2.2.1). Internal.
import { InvalidArgumentError } from '../errors.js';

/**
 * Why `url` is not a valid bundle endpoint URL, or `undefined`: the scheme must be `https` and
 * the authority must carry no userinfo (both profiles say so); nothing else is constrained.
 */
export function endpointUrlProblem(url: URL): string | undefined {
  if (url.protocol !== 'https:') return `the scheme is "${url.protocol.slice(0, -1)}", not https`;
  if (url.username !== '' || url.password !== '') return 'it carries userinfo';
  return undefined;
}

/**
 * The URL for messages and error fields: no userinfo, no query (either may hold a secret) and no
 * fragment.
 */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search === '' ? '' : '?…'}`;
}

/** Parses and checks a configured endpoint URL; throws InvalidArgumentError. */
export function parseEndpointUrl(url: string | URL, what: string): URL {
  let parsed: URL;
  if (url instanceof URL) parsed = new URL(url.href);
  else if (typeof url === 'string') {
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: the bundle endpoint URL is not a valid URL`, {
        cause: err,
      });
    }
  } else throw new InvalidArgumentError(`${what}: the bundle endpoint URL must be a string or URL`);
  const problem = endpointUrlProblem(parsed);
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      `${what}: ${displayUrl(parsed)} is not a bundle endpoint URL: ${problem} (SPIFFE Federation §5.2)`,
    );
  }
  // The fragment is never sent; drop it so that it cannot show up anywhere.
  parsed.hash = '';
  return parsed;
}
