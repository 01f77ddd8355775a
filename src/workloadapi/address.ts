import { isIPv4, isIPv6 } from 'node:net';
import { InvalidEndpointAddressError, type EndpointAddressRule } from '../errors.js';

/**
 * The environment variable that holds the Workload API endpoint address when none is configured
 * (SPIFFE Workload Endpoint §4).
 *
 * @example
 * ```ts
 * process.env[SPIFFE_ENDPOINT_SOCKET] = 'unix:///run/spire/agent.sock';
 * ```
 */
export const SPIFFE_ENDPOINT_SOCKET = 'SPIFFE_ENDPOINT_SOCKET';

/**
 * A Workload API endpoint address that passed {@link parseEndpointAddress}.
 *
 * @example
 * ```ts
 * const endpoint = parseEndpointAddress('tcp://127.0.0.1:8081');
 * endpoint.scheme; // 'tcp'
 * endpoint.host;   // '127.0.0.1'
 * endpoint.port;   // 8081
 * ```
 */
export interface EndpointAddress {
  /** The transport: a Unix domain socket, a TCP socket, or a Windows named pipe. */
  readonly scheme: 'unix' | 'tcp' | 'npipe';
  /** The address exactly as given. */
  readonly address: string;
  /**
   * `unix`: the absolute socket path (percent-decoded). `npipe`: the full pipe path
   * (`\\.\pipe\<name>`). Absent for `tcp`.
   */
  readonly path?: string;
  /** `tcp`: the IP address (IPv6 without brackets). */
  readonly host?: string;
  /** `tcp`: the port, 1-65535. */
  readonly port?: number;
  /** The `@grpc/grpc-js` channel target this address dials. */
  readonly grpcTarget: string;
}

/**
 * Options of {@link parseEndpointAddress}.
 *
 * @example
 * ```ts
 * parseEndpointAddress('npipe:agent', { platform: 'win32' }); // accepted as on Windows
 * ```
 */
export interface ParseEndpointAddressOptions {
  /**
   * The platform whose rules apply (default `process.platform`). `npipe:` addresses are accepted
   * only on `win32`, the only platform where Node can open named pipes.
   */
  readonly platform?: NodeJS.Platform;
}

function fail(rule: EndpointAddressRule, input: string, why: string): never {
  throw new InvalidEndpointAddressError(
    rule,
    input,
    `invalid Workload API endpoint address ${JSON.stringify(input.length > 256 ? `${input.slice(0, 256)}…` : input)}: ${why}`,
  );
}

// RFC 3986 §2: the characters a URI may contain (unreserved, reserved, and '%' for escapes).
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
// Named pipes use backslashes as separators (`npipe:pipe\name`, as go-spiffe accepts).
const NPIPE_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%\\]*$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const PORT = /^[0-9]{1,5}$/;

interface UriParts {
  readonly scheme: string;
  /** `undefined` when there is no `//` (an opaque or rootless URI). */
  readonly authority: string | undefined;
  readonly path: string;
  readonly query: string | undefined;
  readonly fragment: string | undefined;
}

// RFC 3986 Appendix B, written as a scan so no regular expression backtracks on hostile input.
function splitUri(input: string, scheme: string): UriParts {
  let rest = input.slice(scheme.length + 1);
  let fragment: string | undefined;
  let query: string | undefined;
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const question = rest.indexOf('?');
  if (question !== -1) {
    query = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  let authority: string | undefined;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  return { scheme, authority, path: rest, query, fragment };
}

function percentDecode(input: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail('not-a-uri', input, 'it contains an invalid percent-encoding');
  }
}

function parseUnix(input: string, uri: UriParts): EndpointAddress {
  if (uri.authority !== undefined && uri.authority !== '') {
    if (uri.authority.includes('@')) {
      fail('userinfo', input, 'a unix socket URI must not include user info');
    }
    fail(
      'unix-authority',
      input,
      `a unix socket URI must not have an authority component ("${uri.authority}"); write unix:///absolute/path`,
    );
  }
  if (!uri.path.startsWith('/')) {
    fail(
      'unix-path',
      input,
      uri.path === ''
        ? 'a unix socket URI must include the absolute path of the socket'
        : 'the socket path of a unix URI must be absolute (unix:///absolute/path or unix:/absolute/path)',
    );
  }
  const path = percentDecode(input, uri.path);
  if (path.includes('\0')) fail('unix-path', input, 'the socket path must not contain NUL');
  // `unix://` + an absolute path is read back by grpc-js as an empty authority plus that path.
  return Object.freeze({ scheme: 'unix', address: input, path, grpcTarget: `unix://${path}` });
}

function parseTcp(input: string, uri: UriParts): EndpointAddress {
  if (uri.authority === undefined) {
    fail('tcp-host', input, 'a tcp socket URI must be tcp://<IP>:<port>');
  }
  if (uri.authority.includes('@')) {
    fail('userinfo', input, 'a tcp socket URI must not include user info');
  }
  if (uri.path !== '') {
    fail('tcp-path', input, 'a tcp socket URI must not include a path');
  }
  let host: string;
  let portText: string | undefined;
  if (uri.authority.startsWith('[')) {
    const close = uri.authority.indexOf(']');
    if (close === -1) fail('tcp-host', input, 'the IPv6 address is missing its closing "]"');
    host = uri.authority.slice(1, close);
    const after = uri.authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) {
      fail('tcp-host', input, 'the host must be an IP address followed by ":<port>"');
    }
    portText = after === '' ? undefined : after.slice(1);
    if (!isIPv6(host) || host.includes('%')) {
      fail(
        'tcp-host',
        input,
        `the host "[${host}]" is not an IPv6 address (zone identifiers are not supported)`,
      );
    }
  } else {
    const colon = uri.authority.lastIndexOf(':');
    host = colon === -1 ? uri.authority : uri.authority.slice(0, colon);
    portText = colon === -1 ? undefined : uri.authority.slice(colon + 1);
    if (host === '') fail('tcp-host', input, 'a tcp socket URI must include an IP address');
    // `isIPv4` accepts only canonical dotted quads; leading zeros (octal in some resolvers) fail.
    if (!isIPv4(host) || host.split('.').some((o) => o.length > 1 && o.startsWith('0'))) {
      fail(
        'tcp-host',
        input,
        `the host "${host}" is not an IP address; the standard allows only an IP address, never a host name`,
      );
    }
  }
  if (portText === undefined || portText === '') {
    fail('tcp-port', input, 'a tcp socket URI must include a port');
  }
  const port = PORT.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    fail('tcp-port', input, `the port "${portText}" is not a number from 1 to 65535`);
  }
  const grpcTarget = host.includes(':') ? `ipv6:[${host}]:${port}` : `ipv4:${host}:${port}`;
  return Object.freeze({ scheme: 'tcp', address: input, host, port, grpcTarget });
}

function parseNpipe(input: string, uri: UriParts, platform: NodeJS.Platform): EndpointAddress {
  if (uri.authority !== undefined) {
    fail('npipe-name', input, 'a named pipe URI must be opaque: npipe:<name>, not npipe://<name>');
  }
  if (uri.path === '') fail('npipe-name', input, 'a named pipe URI must include the pipe name');
  const name = percentDecode(input, uri.path);
  const segments = name.split(/[\\/]/);
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) {
    fail(
      'npipe-name',
      input,
      'the pipe name must not be empty or contain empty, "." or ".." segments',
    );
  }
  if (platform !== 'win32') {
    fail('platform', input, `named pipes are only available on Windows, not on ${platform}`);
  }
  const path = `\\\\.\\pipe\\${segments.join('\\')}`;
  // grpc-js hands a `unix:` path to net.connect({ path }), which opens named pipes on Windows.
  return Object.freeze({ scheme: 'npipe', address: input, path, grpcTarget: `unix:${path}` });
}

/**
 * Parses and checks a Workload API endpoint address (SPIFFE Workload Endpoint §4):
 * - `unix:///absolute/path` or `unix:/absolute/path`: no authority (host or user info), an
 *   absolute path, no query or fragment;
 * - `tcp://<IP>:<port>`: an IPv4 or bracketed IPv6 literal (never a host name) and a port, with no
 *   user info, path, query or fragment;
 * - `npipe:<name>` (Windows only; go-spiffe's extension): an opaque pipe name, dialed as
 *   `\\.\pipe\<name>`.
 *
 * Any other scheme, or a string that is not an RFC 3986 URI, is rejected. Throws
 * {@link InvalidEndpointAddressError} whose `rule` names the broken rule.
 *
 * @example
 * ```ts
 * import { parseEndpointAddress } from 'spiffe-sdk/workloadapi';
 *
 * parseEndpointAddress('unix:///run/spire/agent.sock').path; // '/run/spire/agent.sock'
 * parseEndpointAddress('tcp://[::1]:8081').grpcTarget;       // 'ipv6:[::1]:8081'
 * parseEndpointAddress('tcp://localhost:8081');              // throws: rule 'tcp-host'
 * ```
 */
export function parseEndpointAddress(
  address: string,
  options: ParseEndpointAddressOptions = {},
): EndpointAddress {
  const text: unknown = address;
  if (typeof text !== 'string' || text.trim() === '') {
    fail('missing', typeof text === 'string' ? text : '', 'the address is empty');
  }
  const match = SCHEME.exec(address);
  if (match === null) {
    fail('scheme', address, 'the address must be a URI with the "unix" or "tcp" scheme');
  }
  const scheme = (match[1] ?? '').toLowerCase();
  if (!(scheme === 'npipe' ? NPIPE_CHARS : URI_CHARS).test(address)) {
    fail(
      'not-a-uri',
      address,
      'it contains characters a URI cannot contain (spaces, control characters, non-ASCII, …)',
    );
  }
  if (scheme !== 'unix' && scheme !== 'tcp' && scheme !== 'npipe') {
    fail(
      'scheme',
      address,
      `the scheme "${match[1] ?? ''}" is not allowed; use "unix" or "tcp" (or "npipe" on Windows)`,
    );
  }
  const uri = splitUri(address, match[1] ?? '');
  if (uri.query !== undefined) fail('query', address, 'the URI must not include a query');
  if (uri.fragment !== undefined) fail('fragment', address, 'the URI must not include a fragment');
  if (scheme === 'unix') return parseUnix(address, uri);
  if (scheme === 'tcp') return parseTcp(address, uri);
  return parseNpipe(address, uri, options.platform ?? process.platform);
}

/**
 * The address in `SPIFFE_ENDPOINT_SOCKET`, or `undefined` when the variable is unset or empty.
 * Not validated; see {@link parseEndpointAddress}.
 *
 * @example
 * ```ts
 * const address = getDefaultEndpointAddress() ?? 'unix:///run/spire/agent.sock';
 * ```
 */
export function getDefaultEndpointAddress(): string | undefined {
  const value = process.env[SPIFFE_ENDPOINT_SOCKET];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The endpoint to use: `address` when given, otherwise `SPIFFE_ENDPOINT_SOCKET` (Workload Endpoint
 * §4: clients MUST fall back to the variable). Throws {@link InvalidEndpointAddressError} with
 * rule `missing` when neither is set, or the rule the address breaks.
 *
 * @example
 * ```ts
 * const endpoint = resolveEndpointAddress(options.address);
 * ```
 */
export function resolveEndpointAddress(
  address?: string,
  options: ParseEndpointAddressOptions = {},
): EndpointAddress {
  const chosen = address ?? getDefaultEndpointAddress();
  if (chosen === undefined) {
    fail(
      'missing',
      '',
      `no address was given and ${SPIFFE_ENDPOINT_SOCKET} is not set; set it to e.g. unix:///run/spire/agent.sock`,
    );
  }
  return parseEndpointAddress(chosen, options);
}
