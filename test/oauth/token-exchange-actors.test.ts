import { randomUUID } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import t, { type Test as TapTest } from 'tap';
import { loadConfig } from '../../src/config.js';
import { applyConfig, exportConfig } from '../../src/config-as-code/apply.js';
import { checkDocument } from '../../src/config-as-code/document.js';
import { auditEvents } from '../../src/db/schema.js';
import { addClient, addService, basicAuth, buildWithAdmin, eventually, ISSUER, postToken, type TestServer } from '../helpers.js';

// Token exchange (RFC 8693) with an actor_token of another client: the requesting client
// (an edge gateway) relays for an actor its grant lists in `exchange.actors`. The listed
// actor is named in `act`, may_act must name it, and the scopes stay within its own grant;
// an unlisted, expired, revoked, forged or delegated actor token is refused. Operators
// cannot list actors; configuration as code carries them.

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read', 'orders:write'] };
const LEDGER = { id: 'ledger', audience: 'https://ledger.example', scopes: ['ledger:read', 'ledger:write'] };

type Client = { clientId: string; clientSecret: string; uuid: string };

async function setup(t: TapTest) {
  const server = await buildWithAdmin(t);
  for (const service of [ORDERS, LEDGER]) await addService(server.database, service);
  const vendor = await addClient(server, {
    client_id: 'vendor-eaglebe',
    grants: [
      { service: 'orders', scopes: ['orders:read'] },
      { service: 'ledger', scopes: ['ledger:read', 'ledger:write'] },
    ],
  });
  // The gateway relays for the orders and billing services at the ledger.
  const gateway = await addClient(server, {
    client_id: 'edge-gw',
    grants: [
      {
        service: 'ledger',
        scopes: ['ledger:read', 'ledger:write'],
        exchange: { subjects: ['vendor-eaglebe'], actors: ['orders-svc', 'billing-svc'] },
      },
    ],
  });
  // The orders service may read the ledger, and act for the vendor there itself.
  const orders = await addClient(server, {
    client_id: 'orders-svc',
    grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe'] } }],
  });
  const billing = await addClient(server, { client_id: 'billing-svc', grants: [{ service: 'ledger', scopes: ['ledger:read'] }] });
  // Granted the ledger, not listed by the gateway.
  const plain = await addClient(server, { client_id: 'plain-svc', grants: [{ service: 'ledger', scopes: ['ledger:read'] }] });
  return { server, vendor, gateway, orders, billing, plain };
}

async function tokenOf(server: TestServer, client: Client, form: Record<string, string> = {}) {
  const res = await postToken(
    server.app,
    { grant_type: 'client_credentials', ...form },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  );
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

function exchange(server: TestServer, client: Client, form: Record<string, string>) {
  return postToken(
    server.app,
    { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, resource: LEDGER.audience, ...form },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  );
}

/** The form of an actor_token. */
const actorToken = (token: string) => ({ actor_token: token, actor_token_type: ACCESS_TOKEN });

function refusal(t: TapTest, res: Awaited<ReturnType<typeof postToken>>, error: string, description: RegExp, message: string) {
  t.equal(res.statusCode, 400, `${message}: 400`);
  const body = res.json() as { error: string; error_description: string };
  t.equal(body.error, error, `${message}: ${error}`);
  t.match(body.error_description, description, `${message}: says why`);
}

t.test('a listed actor: named in act, nested over the chain so far, audited with who presented it', async (t) => {
  const { server, vendor, gateway, orders, billing } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const res = await exchange(server, gateway, { subject_token: vendorToken, ...actorToken(await tokenOf(server, orders)) });
  t.equal(res.statusCode, 200, res.body);
  const claims = decodeJwt(res.json().access_token);
  t.equal(claims.sub, vendor.uuid, 'the subject stays the vendor');
  t.equal(claims.aud, LEDGER.audience);
  t.same(claims.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' }, 'the actor is the listed client');
  // The gateway and the vendor may write the ledger; the orders service may not: read only.
  t.equal(res.json().scope, 'ledger:read', 'what all three allow');

  // The orders service's own exchange, relayed on for billing: billing over orders.
  const byOrders = await exchange(server, orders, { subject_token: vendorToken });
  t.equal(byOrders.statusCode, 200, byOrders.body);
  const relayed = await exchange(server, gateway, {
    subject_token: byOrders.json().access_token,
    ...actorToken(await tokenOf(server, billing)),
  });
  t.equal(relayed.statusCode, 200, relayed.body);
  t.same(decodeJwt(relayed.json().access_token).act, {
    sub: 'service-account-billing-svc',
    client_id: 'billing-svc',
    act: { sub: 'service-account-orders-svc', client_id: 'orders-svc' },
  });

  // The gateway's own actor_token keeps the gateway the actor, as without one.
  const own = await exchange(server, gateway, { subject_token: vendorToken, ...actorToken(await tokenOf(server, gateway)) });
  t.equal(own.statusCode, 200, own.body);
  t.same(decodeJwt(own.json().access_token).act, { sub: 'service-account-edge-gw', client_id: 'edge-gw' });
  t.equal(own.json().scope, 'ledger:read ledger:write', 'no listed actor narrows it');

  const rows = await eventually(
    () => server.database.db.select().from(auditEvents),
    (events) => events.filter((event) => event.action === 'token.exchanged').length >= 4,
  );
  const first = rows.find((event) => event.action === 'token.exchanged');
  t.equal(first?.actorClientId, 'edge-gw', 'the client that asked did it');
  t.same(first?.details, {
    subject: 'vendor-eaglebe',
    actor: 'orders-svc',
    presented_by: 'edge-gw',
    target: ['ledger'],
    scopes: ['ledger:read'],
  });
});

t.test('actor tokens refused: unlisted, delegated, revoked, forged, expired, of a disabled client', async (t) => {
  const { server, vendor, gateway, orders, plain } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const as = (token: string) => exchange(server, gateway, { subject_token: vendorToken, ...actorToken(token) });
  refusal(t, await as(await tokenOf(server, plain)), 'invalid_request', /lists as an actor/, 'an unlisted client');
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, ...actorToken(await tokenOf(server, gateway)) }),
    'invalid_request',
    /lists as an actor/,
    'listed by the gateway, not by the client that asks',
  );
  const delegated = (await exchange(server, orders, { subject_token: vendorToken })).json().access_token as string;
  refusal(t, await as(delegated), 'invalid_request', /not one got by token exchange/, 'a token got by exchange');

  const revoked = await tokenOf(server, orders);
  const revocation = await server.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(orders.clientId, orders.clientSecret) },
    payload: new URLSearchParams({ token: revoked }).toString(),
  });
  t.equal(revocation.statusCode, 200);
  refusal(t, await as(revoked), 'invalid_request', /actor_token is not an active access token/, 'revoked');

  const ordersToken = await tokenOf(server, orders);
  const { privateKey } = await generateKeyPair('ES256');
  const forged = await new SignJWT({ ...decodeJwt(ordersToken) }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
  refusal(t, await as(forged), 'invalid_request', /actor_token is not an active/, 'signed by another key');
  const [header, payload] = ordersToken.split('.');
  refusal(t, await as(`${header}.${payload}.`), 'invalid_request', /actor_token is not an active/, 'unsigned');

  t.equal((await server.admin('POST', '/admin/clients/orders-svc/disable')).statusCode, 200);
  refusal(t, await as(ordersToken), 'invalid_request', /actor_token is not an active/, 'its client disabled');
  t.equal((await server.admin('POST', '/admin/clients/orders-svc/enable')).statusCode, 200);
  t.equal((await as(ordersToken)).statusCode, 200, 'enabled again: accepted');

  server.clock.advance(3601_000);
  const fresh = await tokenOf(server, vendor, { resource: ORDERS.audience });
  refusal(
    t,
    await exchange(server, gateway, { subject_token: fresh, ...actorToken(ordersToken) }),
    'invalid_request',
    /actor_token is not an active/,
    'expired',
  );
});

t.test("a listed actor's DPoP-bound token: the client that presents it cannot prove its key, refused", async (t) => {
  const { server, vendor, gateway, orders } = await setup(t);
  t.equal((await server.admin('PATCH', '/admin/clients/orders-svc', { dpop_bound: true })).statusCode, 200);
  const key = await generateKeyPair('ES256', { extractable: true });
  const proof = await new SignJWT({
    htm: 'POST',
    htu: `${ISSUER}/oauth/token`,
    iat: Math.floor(server.clock.now() / 1000),
    jti: randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
    .sign(key.privateKey);
  const res = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(orders.clientId, orders.clientSecret), dpop: proof },
  );
  t.equal(res.statusCode, 200, 'a DPoP-bound token of the orders service');
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  refusal(
    t,
    await exchange(server, gateway, { subject_token: vendorToken, ...actorToken(res.json().access_token) }),
    'invalid_request',
    /must not be bound/,
    'bound to a key the gateway does not hold',
  );
});

t.test('the listed actor bounds the scopes, and may_act must name it', async (t) => {
  const { server, vendor, gateway, orders, billing } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const ordersActor = actorToken(await tokenOf(server, orders));
  refusal(
    t,
    await exchange(server, gateway, { subject_token: vendorToken, scope: 'ledger:write', ...ordersActor }),
    'invalid_scope',
    /not allowed to the client, the actor and the subject: "ledger:write"/,
    'a scope the actor lacks',
  );
  // Without a grant at the target, the listed actor may do nothing there.
  const patched = await server.admin('PATCH', '/admin/clients/billing-svc', { grants: [{ service: 'orders', scopes: ['orders:read'] }] });
  t.equal(patched.statusCode, 200, 'billing loses its ledger grant');
  refusal(
    t,
    await exchange(server, gateway, { subject_token: vendorToken, scope: 'ledger:read', ...actorToken(await tokenOf(server, billing)) }),
    'invalid_scope',
    /ledger:read/,
    'an actor with no grant at the target',
  );

  // The vendor lets only the orders service act for it.
  t.equal((await server.admin('PATCH', '/admin/clients/vendor-eaglebe', { may_act: ['orders-svc'] })).statusCode, 200);
  const guarded = await tokenOf(server, vendor, { resource: ORDERS.audience });
  t.equal((await exchange(server, gateway, { subject_token: guarded, ...ordersActor })).statusCode, 200, 'relayed for orders: allowed');
  refusal(
    t,
    await exchange(server, gateway, { subject_token: guarded }),
    'invalid_request',
    /does not allow "edge-gw" to act for it \(may_act\)/,
    'the gateway as the actor',
  );
});

t.test('the admin API and configuration as code carry actors; an operator cannot list them', async (t) => {
  const loaded = loadConfig({ ISSUER, OIDC_ISSUER: 'http://127.0.0.1:9', OIDC_CLIENT_ID: 'portier', OIDC_CLIENT_SECRET: 'secret' });
  const server = await buildWithAdmin(t, { config: { oidc: loaded.oidc, console: loaded.console } });
  await addService(server.database, LEDGER);
  t.equal((await server.admin('PATCH', '/admin/services/ledger', { self_service: true })).statusCode, 200);
  const grant = { service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['*'], actors: ['orders-svc'] } };
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'edge-gw',
    name: 'Edge',
    owner: 'alice@example.com',
    grants: [grant],
  });
  t.equal(created.statusCode, 201, 'created');
  t.same((await server.admin('GET', '/admin/clients/edge-gw')).json().grants, [grant], 'the admin API shows the actors');
  const bad = await server.admin('PATCH', '/admin/clients/edge-gw', {
    grants: [{ ...grant, exchange: { subjects: ['*'], actors: ['Not A Client!'] } }],
  });
  t.equal(bad.statusCode, 400, 'an actor that is no client_id');

  // Alice, an operator owning the client, keeps what an admin listed, and lists nothing herself.
  const people = server.app.portier.people;
  if (people === undefined) throw new Error('no people');
  const alice = { subject: 'https://sso.example#alice', name: 'Alice', owner: 'alice@example.com', role: 'operator' as const };
  const { cookie } = await people.sessions.start(alice, { idToken: null, ip: '127.0.0.1' }, server.clock.now());
  const asAlice = (grants: unknown) =>
    server.app.inject({
      method: 'PATCH',
      url: '/admin/clients/edge-gw',
      headers: { cookie: `portier_session=${cookie}`, origin: ISSUER, 'content-type': 'application/json' },
      payload: JSON.stringify({ grants }),
    });
  t.equal((await asAlice([{ ...grant, exchange: { subjects: ['*'], actors: ['orders-svc'] } }])).statusCode, 200, 'kept as it was');
  for (const actors of [['orders-svc', 'bobs-svc'], ['bobs-svc'], []]) {
    const res = await asAlice([{ ...grant, exchange: { subjects: ['*'], actors } }]);
    t.equal(res.statusCode, 400, `actors ${JSON.stringify(actors)}: refused`);
    t.match(JSON.stringify(res.json()), /grants\/0\/exchange/, 'named by its place');
  }
  t.same((await server.admin('GET', '/admin/clients/edge-gw')).json().grants, [grant], 'unchanged');

  // Configuration as code: exported with the actors, applied again unchanged, and applied anew.
  const exported = await exportConfig(server.database.db, Date.now());
  const entry = exported.clients?.find((client) => client.client_id === 'edge-gw');
  t.same(entry?.grants, [grant], 'exported');
  const options = { dryRun: false, prune: false, actor: { clientId: 'pipeline', sub: 'pipeline-sub' }, now: Date.now() };
  const again = await applyConfig(server.database, checkDocument(exported), options);
  t.same(again.changes, [], 'the export applied again changes nothing');
  const relisted = { ...grant, exchange: { subjects: ['*'], actors: ['billing-svc'] } };
  const changed = { ...exported, clients: [{ ...entry, grants: [relisted] }] };
  const applied = await applyConfig(server.database, checkDocument(changed), options);
  t.same(applied.changes, [{ op: 'update', kind: 'client', id: 'edge-gw', fields: ['grants'] }]);
  server.app.portier.generation.changed();
  t.same((await server.admin('GET', '/admin/clients/edge-gw')).json().grants, [relisted], 'applied');
});
