import net from 'node:net';
import {
  InvalidArgumentError,
  InvalidSpiffeIdError,
  XfccError,
  type XfccFailure,
} from '../errors.js';
import { type Matcher, SpiffeId } from '../spiffeid/index.js';
import { peerIdOf } from '../tls/peers.js';
import { parseXfcc } from './xfcc.js';

/**
 * Who the trusted proxy is, and what the client's SPIFFE ID must satisfy. At least one of
 * `proxyAddresses` and `proxyId` must be given; when both are, the request must satisfy both.
 *
 * @example
 * ```ts
 * const options: XfccPeerIdOptions = {
 *   proxyAddresses: ['127.0.0.1', '::1'],
 *   expectedBy: 'spiffe://example.org/ns/prod/sa/billing',
 *   authorize: matchMemberOf(TrustDomain.parse('example.org')),
 * };
 * ```
 */
export interface XfccPeerIdOptions {
  /**
   * The IP addresses the trusted proxy connects from, compared with the remote address of the
   * connection the request arrived on. Exact addresses only, no ranges; an IPv4-mapped IPv6
   * address (`::ffff:127.0.0.1`, what a server listening on `::` sees) matches its IPv4 form. For
   * a sidecar in the same network namespace: `['127.0.0.1', '::1']`.
   */
  readonly proxyAddresses?: readonly string[];
  /**
   * The trusted proxy's SPIFFE ID, compared with the peer ID this SDK verified for the connection
   * (`peerIdOf(request)` from `spiffe-sdk/tls`): the proxy must connect to a server made with the
   * SDK's `mtlsServer` mode, presenting this X509-SVID.
   */
  readonly proxyId?: SpiffeId | string;
  /**
   * When set, the element the proxy added must have exactly one `By` value, equal to this ID. In
   * Istio, `By` is the sidecar's own SPIFFE ID, which is the application's own.
   */
  readonly expectedBy?: SpiffeId | string;
  /**
   * Decides whether the client's SPIFFE ID is acceptable: only a return value of `true` allows.
   * Without it, any valid SPIFFE ID the proxy authenticated is accepted.
   */
  readonly authorize?: Matcher;
}

/**
 * What {@link createXfccPeerIdReader} needs from a request: a Node `http.IncomingMessage` or
 * `http2.Http2ServerRequest` has both (Express's `req` is one; with Fastify pass `request.raw`).
 * The header is read from `rawHeaders` so that two header fields cannot hide behind Node's
 * joining them with `", "`.
 *
 * @example
 * ```ts
 * fastify.get('/', (request) => readPeerId(request.raw satisfies XfccRequest));
 * ```
 */
export interface XfccRequest {
  /** The header fields as received: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  /** The connection the request arrived on. */
  readonly socket:
    | {
        /** The IP address of the connection's other end (the proxy, if all is well). */
        readonly remoteAddress?: string | undefined;
      }
    | null
    | undefined;
}

/**
 * Returns the client's SPIFFE ID as the trusted proxy reported it, `undefined` when the request
 * came from the trusted proxy without an `x-forwarded-client-cert` header (the client presented
 * no certificate), or throws {@link XfccError}.
 *
 * @example
 * ```ts
 * const id: SpiffeId | undefined = readPeerId(req);
 * ```
 */
export type XfccPeerIdReader = (request: XfccRequest) => SpiffeId | undefined;

const OPTION_KEYS = new Set(['proxyAddresses', 'proxyId', 'expectedBy', 'authorize']);
const HEADER = 'x-forwarded-client-cert';

/**
 * The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or `undefined` when `address`
 * is not an IP address without a zone. Node's `isIPv4` accepts only the canonical dotted form; the
 * WHATWG URL parser writes IPv6 in the RFC 5952 form.
 */
function canonicalIp(address: string): string | undefined {
  if (net.isIPv4(address)) return address;
  if (!net.isIPv6(address) || address.includes('%')) return undefined;
  const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped === null) return host;
  const hi = Number.parseInt(mapped[1] ?? '', 16);
  const lo = Number.parseInt(mapped[2] ?? '', 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

function toId(value: unknown, what: string): SpiffeId {
  if (value instanceof SpiffeId) return value;
  if (typeof value === 'string') return SpiffeId.parse(value);
  throw new InvalidArgumentError(`createXfccPeerIdReader: ${what} must be a SpiffeId or a string`);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 256 ? `${s.slice(0, 256)}…` : s);
}

function refuse(
  reason: XfccFailure,
  message: string,
  options?: { cause?: unknown; peerId?: string },
): never {
  throw new XfccError(reason, `x-forwarded-client-cert refused: ${message}`, options);
}

function remoteAddressOf(request: XfccRequest): string | undefined {
  try {
    return request.socket?.remoteAddress;
  } catch {
    // An http2 request whose session is gone throws on every socket read.
    return undefined;
  }
}

/** The single XFCC field value, `undefined` without one; throws when there are several. */
function headerValue(rawHeaders: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    if (name.length !== HEADER.length || name.toLowerCase() !== HEADER) continue;
    if (found !== undefined) {
      // The proxy sends one field; a second one came from somewhere else, and which one to
      // believe is a guess.
      refuse('multiple-headers', 'the request has more than one x-forwarded-client-cert field');
    }
    found = rawHeaders[i + 1] ?? '';
  }
  return found;
}

/**
 * Builds a function that takes the client's SPIFFE ID from the `x-forwarded-client-cert` header
 * (Envoy's format) of requests that a named, trusted proxy forwarded: for applications behind an
 * Envoy or Istio sidecar that terminates mTLS. Options are checked once, here; the reader then
 * costs one header scan and one parse per request. For each request the reader:
 *
 * 1. refuses (`untrusted-proxy`) unless the request came from the proxy: its connection's remote
 *    address is one of `proxyAddresses`, and/or its verified mTLS peer ID is `proxyId`;
 * 2. refuses two or more header fields (`multiple-headers`), returns `undefined` for none;
 * 3. parses the header strictly ({@link parseXfcc}) and takes the LAST element, the one the proxy
 *    appended (every earlier element came from the client or from hops before the proxy);
 * 4. with `expectedBy`, requires that element's only `By` to be that ID (`unexpected-by`);
 * 5. requires exactly one `URI` value, a valid SPIFFE ID (`client-id`), and runs `authorize`
 *    (`unauthorized`).
 *
 * The header proves nothing by itself: anyone who can reach the application directly can write
 * one. The proxy must remove or replace what clients send (Envoy `forward_client_cert_details`
 * `SANITIZE_SET` or `APPEND_FORWARD`, never `FORWARD_ONLY` or `ALWAYS_FORWARD_ONLY`), and only the
 * proxy may be able to reach the application (bind to loopback, or a network policy). See the
 * integrations guide for the full trust model.
 *
 * Throws {@link InvalidArgumentError} for options that name no proxy, an address that is not an
 * IP address, an unknown option, or an ID that is not a valid SPIFFE ID.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createXfccPeerIdReader, XfccError } from 'spiffe-sdk/http';
 *
 * const readPeerId = createXfccPeerIdReader({ proxyAddresses: ['127.0.0.1', '::1'] });
 * http.createServer((req, res) => {
 *   try {
 *     const id = readPeerId(req);
 *     res.end(id === undefined ? 'anonymous' : `hello ${id}`);
 *   } catch (err) {
 *     res.statusCode = err instanceof XfccError && err.reason === 'unauthorized' ? 403 : 401;
 *     res.end();
 *   }
 * }).listen(8080, '127.0.0.1');
 * ```
 */
export function createXfccPeerIdReader(options: XfccPeerIdOptions): XfccPeerIdReader {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError('createXfccPeerIdReader expects an options object');
  }
  for (const key of Object.keys(options)) {
    // A misspelt `authorize` would silently accept every client.
    if (!OPTION_KEYS.has(key)) {
      throw new InvalidArgumentError(
        `createXfccPeerIdReader: unknown option ${JSON.stringify(key)}`,
      );
    }
  }
  const { proxyAddresses, proxyId, expectedBy, authorize } = options;
  let addresses: ReadonlySet<string> | undefined;
  if (proxyAddresses !== undefined) {
    if (!Array.isArray(proxyAddresses) || proxyAddresses.length === 0) {
      throw new InvalidArgumentError(
        'createXfccPeerIdReader: proxyAddresses must be a non-empty array of IP addresses',
      );
    }
    addresses = new Set(
      proxyAddresses.map((a: unknown) => {
        const ip = typeof a === 'string' ? canonicalIp(a) : undefined;
        if (ip === undefined) {
          throw new InvalidArgumentError(
            `createXfccPeerIdReader: proxyAddresses: ${JSON.stringify(a)} is not an IP address (no ranges, host names or zones)`,
          );
        }
        return ip;
      }),
    );
  }
  const proxy = proxyId === undefined ? undefined : toId(proxyId, 'proxyId');
  if (addresses === undefined && proxy === undefined) {
    throw new InvalidArgumentError(
      'createXfccPeerIdReader: name the trusted proxy with proxyAddresses and/or proxyId; ' +
        'without it anyone who can reach the application could claim any identity',
    );
  }
  const by = expectedBy === undefined ? undefined : toId(expectedBy, 'expectedBy').toString();
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new InvalidArgumentError('createXfccPeerIdReader: authorize must be a function');
  }
  const listed = addresses === undefined ? '' : [...addresses].join(', ');

  return (request: XfccRequest): SpiffeId | undefined => {
    if (
      typeof request !== 'object' ||
      (request as unknown) === null ||
      !Array.isArray(request.rawHeaders)
    ) {
      throw new InvalidArgumentError(
        'the XFCC peer ID reader expects a Node http or http2 server request (Fastify: request.raw)',
      );
    }
    if (addresses !== undefined) {
      const remote = remoteAddressOf(request);
      // Node reports canonical addresses, so the exact lookup almost always decides.
      if (
        remote === undefined ||
        !(addresses.has(remote) || addresses.has(canonicalIp(remote) ?? ''))
      ) {
        refuse(
          'untrusted-proxy',
          `the request came from ${remote === undefined ? 'an unknown address' : quote(remote)}, not from a trusted proxy address (${listed})`,
        );
      }
    }
    if (proxy !== undefined) {
      const peer = peerIdOf(request);
      if (peer?.equals(proxy) !== true) {
        refuse(
          'untrusted-proxy',
          peer === undefined
            ? `the connection has no mTLS peer ID verified by this SDK; expected the proxy "${proxy.toString()}"`
            : `the connection's mTLS peer is "${peer.toString()}", not the proxy "${proxy.toString()}"`,
        );
      }
    }
    const value = headerValue(request.rawHeaders);
    if (value === undefined) return undefined;
    const elements = parseXfcc(value);
    // The proxy appends its element, so it is the last one.
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- never an empty list
    const element = elements[elements.length - 1]!;
    if (by !== undefined && (element.by.length !== 1 || element.by[0] !== by)) {
      refuse(
        'unexpected-by',
        `the last element's By values are [${element.by.map(quote).join(', ')}]; expected exactly ["${by}"]`,
      );
    }
    if (element.uri.length !== 1) {
      refuse(
        'client-id',
        element.uri.length === 0
          ? 'the last element has no URI; the proxy must write the client URI SAN (Envoy: set_current_client_cert_details.uri)'
          : `the last element has ${element.uri.length} URI values; an X509-SVID has exactly one URI SAN`,
      );
    }
    const uri = element.uri[0] ?? '';
    if (uri === '')
      refuse('client-id', 'the client certificate has no URI SAN, so it is no X509-SVID');
    let id: SpiffeId;
    try {
      id = SpiffeId.parse(uri);
    } catch (err) {
      if (!(err instanceof InvalidSpiffeIdError)) throw err;
      refuse(
        'client-id',
        `the client URI SAN ${quote(uri)} is not a valid SPIFFE ID (${err.rule})`,
        {
          cause: err,
        },
      );
    }
    if (authorize !== undefined) {
      let allowed: unknown;
      try {
        allowed = authorize(id);
      } catch (err) {
        refuse('unauthorized', `client "${id.toString()}" was refused by the matcher`, {
          cause: err,
          peerId: id.toString(),
        });
      }
      if (allowed !== true) {
        refuse('unauthorized', `client "${id.toString()}" did not match the matcher`, {
          peerId: id.toString(),
        });
      }
    }
    return id;
  };
}
