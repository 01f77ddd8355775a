// One HTTPS GET of a bundle endpoint, with every transport and HTTP rule of fetchBundle. Internal.
import type { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { BundleEndpointError, type BundleEndpointFailure, SpiffeError } from '../errors.js';
import { chainFromSocket } from '../tls/verifier.js';
import { abortReason } from '../workloadapi/signals.js';

/**
 * Request options that make `https.request` connect through one authentication profile: a
 * `createConnection` (so no agent, no pooling, no session cache and no proxy is ever involved)
 * and the port of `https:` URLs without one.
 */
export type Connector = () => https.RequestOptions;

/** What a GET gave: a body to parse, or a redirect for the caller to judge. */
export type GetResult =
  | {
      readonly kind: 'body';
      readonly body: Buffer;
      /** The server's certificates, leaf first, when asked for. */
      readonly peerChain: readonly X509Certificate[] | undefined;
    }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string | undefined };

/** The status codes whose Location names where the resource is now (RFC 9110 §15.4). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The media types of a SPIFFE bundle: JSON (Federation §5.2) and JWK Set (RFC 7517 §8.5.1). */
const MEDIA_TYPES = new Set(['application/json', 'application/jwk-set+json']);

const ACCEPT = 'application/json, application/jwk-set+json';

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Short, printable form of a header value the server chose, for messages. */
function shown(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > 100 ? `${printable.slice(0, 100)}…` : printable);
}

/**
 * Why `value` is not a JSON Content-Type, or `undefined`. Type and subtype are case-insensitive
 * (RFC 9110 §8.3.1); a `charset` parameter, if any, must name UTF-8, the only encoding a bundle
 * may have (Federation §5.2.1.3, RFC 8259 §8.1); other parameters are ignored.
 */
export function contentTypeProblem(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') {
    return 'the answer has no Content-Type; a bundle endpoint serves application/json';
  }
  const [type = '', ...params] = value.split(';').map((p) => p.trim());
  if (!MEDIA_TYPES.has(type.toLowerCase())) {
    return `Content-Type ${shown(value)} is not application/json (or application/jwk-set+json)`;
  }
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      return `Content-Type ${shown(value)} names a charset other than UTF-8`;
    }
  }
  return undefined;
}

function encodingProblem(headers: IncomingHttpHeaders): string | undefined {
  const encoding = single(headers['content-encoding']);
  if (encoding === undefined || encoding.trim().toLowerCase() === 'identity') return undefined;
  return `the answer is content-encoded (${shown(encoding)}) although the request asked for no encoding`;
}

/**
 * GETs `url` through `connector`. Resolves with the body of a 200 answer or with a redirect;
 * rejects with a BundleEndpointError for everything else, and with the signal's reason when
 * `signal` aborts (the fetch's timeout aborts it with its own BundleEndpointError). The body is
 * counted while it streams and the request is destroyed as soon as it exceeds `maxBytes`. Every
 * outcome destroys the request, so no socket outlives the call.
 */
export function httpsGet(
  url: URL,
  display: string,
  connector: Connector,
  maxBytes: number,
  signal: AbortSignal,
  wantPeerChain: boolean,
): Promise<GetResult> {
  return new Promise<GetResult>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    let settled = false;
    // Which step an error interrupts: TCP connection, TLS handshake, or the HTTP exchange.
    let phase: 'connect' | 'handshake' | 'exchange' = 'connect';
    let peerChain: readonly X509Certificate[] | undefined;
    const req = https.request(url, {
      ...connector(),
      method: 'GET',
      headers: { accept: ACCEPT },
    });
    const finish = (error: Error | undefined, result?: GetResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (error !== undefined) reject(error);
      else if (result !== undefined) resolve(result);
    };
    const fail = (
      reason: BundleEndpointFailure,
      message: string,
      options?: { cause?: unknown; status?: number },
    ): void => {
      finish(new BundleEndpointError(reason, display, message, options));
    };
    const onAbort = (): void => {
      finish(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });

    req.on('socket', (socket) => {
      socket.once('connect', () => {
        phase = 'handshake';
      });
      // The SDK's SPIFFE client emits 'secureConnect' only for a server it verified.
      socket.once('secureConnect', () => {
        phase = 'exchange';
        if (!wantPeerChain || !(socket instanceof tls.TLSSocket)) return;
        try {
          peerChain = chainFromSocket(socket);
        } catch (err) {
          fail('tls', 'the server presented no certificate', { cause: err });
        }
      });
    });
    req.on('error', (err) => {
      // The TLS layer's own errors (verification, authorization, no usable trust) are TLS failures
      // whenever they happen; Node's are classified by the step they interrupted.
      if (err instanceof SpiffeError || phase === 'handshake') {
        fail('tls', `the TLS handshake failed: ${err.message}`, { cause: err });
      } else if (phase === 'connect') {
        fail('network', `cannot connect: ${err.message}`, { cause: err });
      } else {
        fail('network', `the connection failed: ${err.message}`, { cause: err });
      }
    });
    req.on('response', (res) => {
      res.on('error', (err) => {
        fail('network', `the answer broke off: ${err.message}`, { cause: err });
      });
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        finish(undefined, { kind: 'redirect', status, location: single(res.headers.location) });
        return;
      }
      if (status !== 200) {
        fail('status', `answered HTTP ${status}; a bundle endpoint answers 200`, { status });
        return;
      }
      const problem =
        contentTypeProblem(single(res.headers['content-type'])) ?? encodingProblem(res.headers);
      if (problem !== undefined) {
        fail('content-type', problem);
        return;
      }
      const declared = Number(single(res.headers['content-length']) ?? '0');
      if (declared > maxBytes) {
        fail(
          'too-large',
          `the answer declares ${declared} bytes; the limit is ${maxBytes} (maxBytes)`,
        );
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) fail('too-large', `the body exceeds ${maxBytes} bytes (maxBytes)`);
        else chunks.push(chunk);
      });
      res.on('end', () => {
        finish(undefined, { kind: 'body', body: Buffer.concat(chunks, total), peerChain });
      });
      res.on('close', () => {
        if (!res.complete) fail('network', 'the connection closed before the whole body arrived');
      });
    });
    req.end();
  });
}
