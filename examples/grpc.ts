// gRPC with SPIFFE: an mTLS server that only lets spiffe://example.org/web call and also requires
// a JWT-SVID, a client whose SVIDs come from its own (in-process) Workload API, a rotation of the
// client's X509-SVID, and a caller without a JWT-SVID that is refused:
//   npm run build && node dist/examples/grpc.js
import {
  Client,
  Metadata,
  type sendUnaryData,
  Server,
  type ServerUnaryCall,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import {
  jwtSvidCallCredentials,
  jwtSvidFromCall,
  jwtSvidServerInterceptor,
  mtlsClientCredentials,
  mtlsServerCredentials,
  peerIdFromCall,
} from 'spiffe-sdk/grpc';
import { JwtAuthority, TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
import { authorizeId } from 'spiffe-sdk/tls';
import { JwtSource, X509Source } from 'spiffe-sdk/workloadapi';

const GREETER = 'spiffe://example.org/greeter';
const WEB = 'spiffe://example.org/web';

// The reference issuer, and one Workload API per workload (as one SPIRE agent per node would be).
const ca = await TestCA.create({ trustDomain: 'example.org' });
const jwtAuthority = await JwtAuthority.create({ trustDomain: 'example.org' });
const identityOf = async (id: string) => ({
  x509Svids: [await ca.issueX509Svid(id)],
  x509Bundle: ca.x509Bundle(),
  jwtAuthority,
});
await using serverAgent = await WorkloadApiServer.create({ identity: await identityOf(GREETER) });
await using clientAgent = await WorkloadApiServer.create({ identity: await identityOf(WEB) });

// A JSON service, so that the example needs no .proto file.
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as Greeting,
};
interface Greeting {
  readonly caller: string | undefined;
  readonly jwtCaller: string | undefined;
  /** Serial number of the client certificate of the call's connection. */
  readonly serial: string | undefined;
}
const hello = {
  path: '/example.Greeter/Hello',
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
} as const;

// Server: X509-SVID and JWT bundles from its Workload API; only WEB may call, with a JWT-SVID
// for the greeter's audience. Both checks run before the handler.
await using serverX509 = await X509Source.create({ address: serverAgent.address });
await using serverJwt = await JwtSource.create({ address: serverAgent.address });
const server = new Server({
  interceptors: [jwtSvidServerInterceptor({ bundleSource: serverJwt, audience: GREETER })],
});
server.addService(
  { hello },
  {
    hello: (call: ServerUnaryCall<unknown, Greeting>, callback: sendUnaryData<Greeting>) => {
      callback(null, {
        caller: peerIdFromCall(call)?.toString(),
        jwtCaller: jwtSvidFromCall(call)?.id.toString(),
        serial: call.getAuthContext().sslPeerCertificate?.serialNumber,
      });
    },
  },
);
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync('127.0.0.1:0', mtlsServerCredentials(serverX509, authorizeId(WEB)), (err, p) => {
    if (err === null) resolve(p);
    else reject(err);
  });
});

// Client: X509-SVID and (cached) JWT-SVIDs from its own Workload API; only GREETER is accepted
// as the server.
await using clientX509 = await X509Source.create({ address: clientAgent.address });
await using clientJwt = await JwtSource.create({ address: clientAgent.address });
const withJwt = mtlsClientCredentials(clientX509, authorizeId(GREETER)).compose(
  jwtSvidCallCredentials(clientJwt, { audience: GREETER }),
);

function call(c: Client): Promise<Greeting> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(
      hello.path,
      json.serialize,
      json.deserialize,
      {},
      new Metadata(),
      (err: ServiceError | null, value?: Greeting) => {
        if (err === null && value !== undefined) resolve(value);
        else reject(err ?? new Error('no answer'));
      },
    );
  });
}

function show(label: string, g: Greeting): void {
  console.log(
    `${label} the handler saw ${g.caller} (JWT-SVID of ${g.jwtCaller}, certificate ${g.serial?.slice(0, 8)}…)`,
  );
  if (g.caller !== WEB || g.jwtCaller !== WEB) throw new Error('unexpected caller');
}

// `grpc.use_local_subchannel_pool` gives each client its own connection, so that the second
// client below really opens a new one.
const options = { 'grpc.use_local_subchannel_pool': 1 };
const first = new Client(`localhost:${port}`, withJwt, options);
const before = await call(first);
show('first call:      ', before);

// The agent rotates the client's X509-SVID; the next connection presents it, the open one keeps
// working.
const rotated = new Promise<void>((resolve) => {
  const off = clientX509.onUpdate(() => {
    off();
    resolve();
  });
});
await clientAgent.setIdentity(await identityOf(WEB));
await rotated;
const second = new Client(`localhost:${port}`, withJwt, options);
const after = await call(second);
show('new connection:  ', after);
const open = await call(first);
show('open connection: ', open);
if (after.serial === before.serial || open.serial !== before.serial) {
  throw new Error('the new connection should present the rotated SVID, the open one the old one');
}

// A caller with the right X509-SVID but without a JWT-SVID never reaches the handler.
const noJwt = new Client(
  `localhost:${port}`,
  mtlsClientCredentials(clientX509, authorizeId(GREETER)),
  options,
);
const refused = await call(noJwt).then(
  () => {
    throw new Error('a caller without a JWT-SVID was served');
  },
  (err: unknown) => err as ServiceError,
);
if (refused.code !== status.UNAUTHENTICATED) throw refused;
console.log(`without a JWT-SVID: ${status[refused.code]} (${refused.details})`);

for (const c of [first, second, noJwt]) c.close();
server.forceShutdown();
