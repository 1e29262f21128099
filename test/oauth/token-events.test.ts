import { decodeJwt } from 'jose';
import t from 'tap';
import { InvalidClient } from '../../src/oauth/errors.js';
import type { TokenIssued, TokenRefused } from '../../src/oauth/token-events.js';
import { addClient, addService, basicAuth, build, openBudgets, postToken } from '../helpers.js';

// The token endpoints' events (oauth/token-events.ts): what a listener is told of an issued
// token and of a refusal, on the endpoint where it happened, at the server's time.

t.test('token.issued and token.refused carry the outcome, the caller and the time', async (t) => {
  const server = await build(t, { config: { protection: openBudgets({ throttleDelayMs: 0 }) } });
  server.clock.freeze();
  await addService(server.database, { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read'] });
  const client = await addClient(server, { client_id: 'acme-sync', grants: [{ service: 'orders', scopes: ['orders:read'] }] });
  const issued: TokenIssued[] = [];
  const refused: TokenRefused[] = [];
  // Subscribed after the built-in listeners: theirs run first, in the order they were added.
  server.app.portier.tokenEvents.on('token.issued', (event) => issued.push(event));
  server.app.portier.tokenEvents.on('token.refused', (event) => refused.push(event));

  const ok = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  );
  t.equal(ok.statusCode, 200);
  t.equal(issued.length, 1, 'one token.issued');
  const [event] = issued;
  t.equal(event?.outcome.client.clientId, 'acme-sync', 'the client');
  t.equal(event?.outcome.token.jti, decodeJwt(ok.json().access_token).jti, 'the token issued');
  t.same(
    event?.outcome.services.map((service) => service.serviceId),
    ['orders'],
    'the services',
  );
  t.equal(event?.ip, '127.0.0.1', 'the caller');
  t.equal(event?.now, server.clock.now(), 'at the server clock');
  t.equal(refused.length, 0, 'no refusal');

  const wrong = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, 'not-the-secret') },
  );
  t.equal(wrong.statusCode, 401);
  t.equal(refused.length, 1, 'one token.refused');
  t.equal(refused[0]?.endpoint, '/oauth/token', 'on the token endpoint');
  t.ok(refused[0]?.error instanceof InvalidClient, 'with the OAuth error answered');
  t.same(refused[0]?.error?.client, { clientId: 'acme-sync' }, 'naming the client');

  const introspection = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, 'not-the-secret') },
    payload: 'token=x',
  });
  t.equal(introspection.statusCode, 401);
  t.equal(refused[1]?.endpoint, '/oauth/introspect', 'a refused introspection is told with its endpoint');
  t.equal(issued.length, 1, 'and is no token');
});
