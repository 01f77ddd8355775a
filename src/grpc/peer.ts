import {
  type Metadata,
  type ServerInterceptingCallInterface,
  ServerInterceptingCall,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import { PeerUnauthorizedError, X509SvidVerificationError } from '../errors.js';
import type { SpiffeId } from '../spiffeid/index.js';

/**
 * A gRPC server call as handlers receive it (`ServerUnaryCall`, `ServerReadableStream`,
 * `ServerWritableStream`, `ServerDuplexStream`): what {@link peerIdFromCall} and
 * {@link jwtSvidFromCall} read.
 *
 * @example
 * ```ts
 * function caller(call: GrpcServerCall): string {
 *   return peerIdFromCall(call)?.toString() ?? 'anonymous';
 * }
 * ```
 */
export interface GrpcServerCall {
  /** The call's request metadata. */
  readonly metadata: Metadata;
}

/**
 * Which call an `onReject` hook is told about.
 *
 * @example
 * ```ts
 * const onReject = (err: Error, call: RejectedCall) =>
 *   console.warn(`refused ${call.method} from ${call.peer}: ${err.message}`);
 * ```
 */
export interface RejectedCall {
  /** The peer address as grpc-js reports it (`127.0.0.1:53012`). */
  readonly peer: string;
  /** The full method path (`/package.Service/Method`). */
  readonly method: string;
}

/**
 * Verified X.509 peers by the metadata object of their call. grpc-js hands the very object that
 * the innermost interceptor passes on to the handler as `call.metadata`, and creates one per call,
 * so the tag cannot leak to another call; an interceptor that replaces the object loses the tag
 * (fail closed).
 */
const x509Peers = new WeakMap<Metadata, SpiffeId>();

/**
 * The SPIFFE ID of the caller, verified from its X509-SVID by this SDK's server credentials
 * ({@link mtlsServerCredentials}, {@link mtlsWebServerCredentials}) or by
 * {@link createGrpcTlsServer}, or `undefined` when the call did not come through them or no
 * client certificate was verified (a TLS-only server). Pass the call object a handler received;
 * in an interceptor added with `new Server({ interceptors })` (they run after the SDK's), pass
 * `{ metadata }` from `onReceiveMetadata`.
 *
 * @example
 * ```ts
 * server.addService(service, {
 *   hello(call, callback) {
 *     callback(null, { greeting: `hello ${peerIdFromCall(call)?.toString()}` });
 *   },
 * });
 * ```
 */
export function peerIdFromCall(call: GrpcServerCall): SpiffeId | undefined {
  return x509Peers.get(call.metadata);
}

/** How a refusal is reported to the client: a gRPC status and fixed details. */
export interface Refusal {
  readonly code: status;
  readonly details: string;
}

/** The status for an X.509 refusal (the error itself only goes to `onReject`). */
function x509Refusal(err: unknown): Refusal {
  if (err instanceof PeerUnauthorizedError) {
    return {
      code: status.PERMISSION_DENIED,
      details: `the SPIFFE ID "${err.peerId}" is not authorized to call this server`,
    };
  }
  if (err instanceof X509SvidVerificationError) {
    return { code: status.UNAUTHENTICATED, details: 'the client X509-SVID was not verified' };
  }
  // The server's own material is unusable (for example no bundle at all): fail closed.
  return { code: status.UNAVAILABLE, details: 'the server cannot authenticate clients now' };
}

/** Calls a user hook that must not break the server. */
export function safely(hook: () => void): void {
  try {
    hook();
  } catch {
    // A failing log hook must not change the outcome of a call.
  }
}

/**
 * An interceptor that identifies the caller before anything else sees the call: it holds back
 * the request metadata (and, through grpc-js, every message and the half-close) until `identify`
 * returned, then tags the metadata for {@link peerIdFromCall}. When `identify` throws, the call
 * ends with the status of `x509Refusal` and no later interceptor or handler runs.
 */
export function x509PeerInterceptor(
  identify: (call: ServerInterceptingCallInterface) => SpiffeId,
  onReject: ((error: Error, call: RejectedCall) => void) | undefined,
): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            let id: SpiffeId;
            try {
              id = identify(call);
            } catch (err) {
              call.sendStatus(x509Refusal(err));
              const error = err instanceof Error ? err : new Error(String(err));
              safely(() => onReject?.(error, { peer: call.getPeer(), method: method.path }));
              return;
            }
            x509Peers.set(metadata, id);
            pass(metadata);
          },
        });
      },
    });
}
