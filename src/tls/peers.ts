import tls from 'node:tls';
import type { SpiffeId } from '../spiffeid/index.js';
import type { VerifiedPeer } from './verifier.js';

/** Verified peers by the socket (or http2 session) they were verified on. */
const peers = new WeakMap<object, VerifiedPeer>();

/**
 * A getter on `tls.TLSSocket.prototype` that returns the socket itself. http2 hands out a Proxy
 * instead of the socket (`session.socket`); the Proxy forwards property reads to the socket, so
 * reading this symbol through it yields the real socket, which is the WeakMap key. A prototype
 * getter (installed once, under a private symbol) costs nothing per connection.
 */
const kSelf = Symbol('spiffe-sdk.tls.socket');
let selfInstalled = false;

function installSelf(): void {
  if (selfInstalled) return;
  selfInstalled = true;
  if (!Object.prototype.hasOwnProperty.call(tls.TLSSocket.prototype, kSelf)) {
    Object.defineProperty(tls.TLSSocket.prototype, kSelf, {
      get(this: unknown) {
        return this;
      },
      enumerable: false,
      configurable: false,
    });
  }
}

/** Records the peer verified on `socket`. */
export function registerPeer(socket: object, peer: VerifiedPeer): void {
  installSelf();
  peers.set(socket, peer);
}

/** Records the peer of an http2 session (the peer of the socket it runs on). */
export function registerSession(session: object, peer: VerifiedPeer): void {
  peers.set(session, peer);
}

function read(obj: object, key: PropertyKey): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch {
    // A destroyed http2 session's socket Proxy throws on every read.
    return undefined;
  }
}

function direct(obj: object): VerifiedPeer | undefined {
  const hit = peers.get(obj);
  if (hit !== undefined) return hit;
  const self = read(obj, kSelf);
  return typeof self === 'object' && self !== null ? peers.get(self) : undefined;
}

/** The verified peer of a socket, request, response, http2 stream or session, if any. */
export function verifiedPeerOf(value: unknown): VerifiedPeer | undefined {
  let cur: unknown = value;
  for (let depth = 0; depth < 5 && typeof cur === 'object' && cur !== null; depth++) {
    const hit = direct(cur);
    if (hit !== undefined) return hit;
    // Http2ServerRequest → stream → session; IncomingMessage / ClientRequest → socket.
    cur = read(cur, 'stream') ?? read(cur, 'session') ?? read(cur, 'socket');
  }
  return undefined;
}

/**
 * The SPIFFE ID that the SDK verified and authorized at handshake time for the peer of a TLS
 * socket, an http/https request (server or client side), an http2 request, stream or session.
 * `undefined` when the SDK did not verify that connection (for example a TLS-only server's
 * client, or a Web PKI server). The ID is recorded once per connection; handlers never need to
 * read certificates again.
 *
 * @example
 * ```ts
 * const server = createHttpsServer(mtlsServer(source, authorizeMemberOf(td)), {}, (req, res) => {
 *   res.end(`hello ${peerIdOf(req)?.toString()}`);
 * });
 * ```
 */
export function peerIdOf(requestOrSocket: unknown): SpiffeId | undefined {
  return verifiedPeerOf(requestOrSocket)?.id;
}
