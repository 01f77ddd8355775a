// A tiny tour of spiffe-sdk/spiffeid: parse SPIFFE IDs, reject invalid ones with a precise
// reason, and authorize peers with matchers. Run: npm run example
import {
  InvalidSpiffeIdError,
  matchMemberOf,
  matchOneOf,
  SpiffeId,
  TrustDomain,
} from 'spiffe-sdk/spiffeid';

const web = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web');
console.log(`parsed ${web.toString()}: trust domain ${web.trustDomain.name}, path ${web.path}`);

const exampleOrg = TrustDomain.parse('example.org');
const api = SpiffeId.fromSegments(exampleOrg, 'ns', 'prod', 'sa', 'api');
console.log(`built  ${api.toString()} from segments`);

for (const input of [
  'spiffe://Example.org/web',
  'spiffe://example.org/ns//web',
  'spiffe://example.org:8443/web',
  'https://example.org/web',
]) {
  try {
    SpiffeId.parse(input);
    console.log(`accepted ${input}`);
  } catch (err) {
    if (!(err instanceof InvalidSpiffeIdError)) throw err;
    console.log(`rejected ${input} [${err.code}, rule ${err.rule}]`);
  }
}

const allowed = matchOneOf(web, api);
const sameDomain = matchMemberOf(exampleOrg);
const stranger = SpiffeId.parse('spiffe://other.org/ns/prod/sa/web');
console.log(`matchOneOf(web, api): web=${allowed(web)} stranger=${allowed(stranger)}`);
console.log(`matchMemberOf(example.org): api=${sameDomain(api)} stranger=${sameDomain(stranger)}`);
