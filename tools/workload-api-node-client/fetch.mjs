// Usage: node fetch.mjs <socket path> <audience>
// Calls every Workload API RPC with @grpc/grpc-js, as a non-.NET workload would, and prints one JSON
// object describing what came back (or the gRPC status of each failure) on stdout.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const [socketPath, audience] = process.argv.slice(2);
if (!socketPath || !audience) {
  console.error('usage: node fetch.mjs <socket path> <audience>');
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const protoPath = path.join(here, '..', '..', 'src', 'Spiffe', 'WorkloadApi', 'workload.proto');
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, defaults: true });
const { SpiffeWorkloadAPI } = grpc.loadPackageDefinition(definition);
const client = new SpiffeWorkloadAPI(`unix://${socketPath}`, grpc.credentials.createInsecure());

const header = () => {
  const metadata = new grpc.Metadata();
  metadata.set('workload.spiffe.io', 'true');
  return metadata;
};

const deadline = () => new Date(Date.now() + 15000);

// The first message of a server stream, then cancel it.
const first = (method, request, metadata = header()) => new Promise((resolve, reject) => {
  const call = client[method](request, metadata, { deadline: deadline() });
  call.on('data', (message) => { resolve(message); call.cancel(); });
  call.on('error', (error) => { if (error.code !== grpc.status.CANCELLED) reject(error); });
});

const unary = (method, request, metadata = header()) => new Promise((resolve, reject) => {
  client[method](request, metadata, { deadline: deadline() }, (error, response) => (error ? reject(error) : resolve(response)));
});

const status = (error) => ({ code: grpc.status[error.code] ?? error.code, details: error.details });
const der = (buffer) => buffer.toString('base64');

const result = {};
try {
  const x509 = await first('FetchX509SVID', {});
  result.x509 = x509.svids.map((svid) => ({
    spiffe_id: svid.spiffe_id,
    x509_svid: der(svid.x509_svid),
    key_bytes: svid.x509_svid_key.length,
    bundle: der(svid.bundle),
    hint: svid.hint,
  }));
} catch (error) { result.x509_error = status(error); }

try {
  const bundles = await first('FetchX509Bundles', {});
  result.x509_bundles = Object.fromEntries(Object.entries(bundles.bundles).map(([td, b]) => [td, der(b)]));
} catch (error) { result.x509_bundles_error = status(error); }

try {
  const jwt = await unary('FetchJWTSVID', { audience: [audience] });
  result.jwt = jwt.svids.map((svid) => ({ spiffe_id: svid.spiffe_id, svid: svid.svid }));
  try {
    const validated = await unary('ValidateJWTSVID', { audience, svid: jwt.svids[0].svid });
    result.validated = { spiffe_id: validated.spiffe_id, sub: validated.claims.fields.sub.stringValue };
  } catch (error) { result.validate_error = status(error); }
} catch (error) { result.jwt_error = status(error); }

try {
  const jwtBundles = await first('FetchJWTBundles', {});
  result.jwt_bundles = Object.fromEntries(Object.entries(jwtBundles.bundles).map(([td, b]) => [td, JSON.parse(b.toString('utf8'))]));
} catch (error) { result.jwt_bundles_error = status(error); }

try {
  await unary('FetchJWTSVID', { audience: [audience] }, new grpc.Metadata());
  result.no_header = { code: 'OK' };
} catch (error) { result.no_header = status(error); }

client.close();
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
