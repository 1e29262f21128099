import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import t from 'tap';
import { addClient, addService, build, freePort, type TestLike } from '../helpers.js';

// Token exchange (RFC 8693) driven by maintained libraries that no one here wrote, over real
// HTTP: oauth4webapi's genericTokenEndpointRequest and openid-client's genericGrantRequest,
// each exchanging a vendor's token for one meant for the ledger, and the ledger checking the
// result as oauth4webapi's validateJwtAccessToken would (act included).

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read'] };
const LEDGER = { id: 'ledger', audience: 'https://ledger.example', scopes: ['ledger:read', 'ledger:write'] };

async function listeningPortier(t: TestLike) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await build(t, { config: { issuer } });
  await addService(server.database, ORDERS);
  await addService(server.database, LEDGER);
  const vendor = await addClient(server, {
    client_id: 'vendor-eaglebe',
    grants: [
      { service: 'orders', scopes: ['orders:read'] },
      { service: 'ledger', scopes: ['ledger:read'] },
    ],
  });
  const orders = await addClient(server, {
    client_id: 'orders-svc',
    grants: [{ service: 'ledger', scopes: ['ledger:read', 'ledger:write'], exchange: { subjects: ['vendor-eaglebe'] } }],
  });
  await server.app.listen({ port, host: '127.0.0.1' });
  return { server, issuer: new URL(issuer), vendor, orders };
}

t.test("oauth4webapi's genericTokenEndpointRequest exchanges a vendor's token", async (t) => {
  const { issuer, vendor, orders } = await listeningPortier(t);
  const insecure = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  t.ok(as.grant_types_supported?.includes(EXCHANGE), 'discovery lists token exchange');

  const vendorClient: oauth.Client = { client_id: vendor.clientId };
  const vendorToken = await oauth.processClientCredentialsResponse(
    as,
    vendorClient,
    await oauth.clientCredentialsGrantRequest(
      as,
      vendorClient,
      oauth.ClientSecretBasic(vendor.clientSecret),
      { resource: ORDERS.audience },
      insecure,
    ),
  );

  const ordersClient: oauth.Client = { client_id: orders.clientId };
  const response = await oauth.genericTokenEndpointRequest(
    as,
    ordersClient,
    oauth.ClientSecretBasic(orders.clientSecret),
    EXCHANGE,
    { subject_token: vendorToken.access_token, subject_token_type: ACCESS_TOKEN, resource: LEDGER.audience, scope: 'ledger:read' },
    insecure,
  );
  const exchanged = await oauth.processGenericTokenEndpointResponse(as, ordersClient, response);
  t.equal(exchanged.token_type, 'bearer');
  t.equal(exchanged.issued_token_type, ACCESS_TOKEN);
  t.equal(exchanged.scope, 'ledger:read');

  // The ledger verifies it as any RFC 9068 token, and sees the vendor with the orders service acting.
  const request = new Request('https://ledger.example/entries', { headers: { authorization: `Bearer ${exchanged.access_token}` } });
  const claims = await oauth.validateJwtAccessToken(as, request, LEDGER.audience, insecure);
  t.equal(claims.client_id, 'vendor-eaglebe');
  t.same(claims.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });

  // A widened scope: the library surfaces RFC 8693's error.
  const widened = await oauth.genericTokenEndpointRequest(
    as,
    ordersClient,
    oauth.ClientSecretBasic(orders.clientSecret),
    EXCHANGE,
    { subject_token: vendorToken.access_token, subject_token_type: ACCESS_TOKEN, scope: 'ledger:write' },
    insecure,
  );
  const error = await oauth.processGenericTokenEndpointResponse(as, ordersClient, widened).catch((caught: unknown) => caught);
  t.ok(error instanceof oauth.ResponseBodyError && error.error === 'invalid_scope', 'invalid_scope');
});

t.test("openid-client's genericGrantRequest exchanges a vendor's token", async (t) => {
  const { issuer, vendor, orders } = await listeningPortier(t);
  const options = { algorithm: 'oauth2' as const, execute: [openid.allowInsecureRequests] };
  const vendorConfig = await openid.discovery(issuer, vendor.clientId, undefined, openid.ClientSecretBasic(vendor.clientSecret), options);
  const vendorToken = await openid.clientCredentialsGrant(vendorConfig, { resource: ORDERS.audience });
  const config = await openid.discovery(issuer, orders.clientId, undefined, openid.ClientSecretPost(orders.clientSecret), options);
  const exchanged = await openid.genericGrantRequest(config, EXCHANGE, {
    subject_token: vendorToken.access_token,
    subject_token_type: ACCESS_TOKEN,
    resource: LEDGER.audience,
  });
  t.equal(exchanged.issued_token_type, ACCESS_TOKEN);
  t.equal(exchanged.scope, 'ledger:read', 'what both allow');
  const claims = exchanged.access_token.split('.')[1] ?? '';
  t.match(JSON.parse(Buffer.from(claims, 'base64url').toString()), {
    client_id: 'vendor-eaglebe',
    aud: LEDGER.audience,
    act: { client_id: 'orders-svc' },
  });
  const refused = await openid
    .genericGrantRequest(config, EXCHANGE, { subject_token: 'not-a-token', subject_token_type: ACCESS_TOKEN })
    .catch((caught: unknown) => caught);
  t.ok(refused instanceof openid.ResponseBodyError && refused.error === 'invalid_request', 'invalid_request for a bad subject token');
});
