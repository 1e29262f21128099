import t from 'tap';
import { addClient, addService, basicAuth, build, postToken } from './helpers.js';

t.test('GET /metrics counts token outcomes in Prometheus text format', async (t) => {
  const server = await build(t);
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['read'] });
  const { clientId, clientSecret } = await addClient(server, { grants: [{ service: 'events', scopes: ['read'] }] });
  await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, clientSecret) });
  await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, 'wrong') });
  await postToken(server.app, { grant_type: 'password' }, { authorization: basicAuth(clientId, clientSecret) });

  const res = await server.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  t.match(res.body, /portier_token_requests_total\{outcome="issued"\} 1/);
  t.match(res.body, /portier_token_requests_total\{outcome="invalid_client"\} 1/);
  t.match(res.body, /portier_token_requests_total\{outcome="unsupported_grant_type"\} 1/);
  t.match(res.body, /portier_token_request_duration_seconds_count 3/);
  t.match(res.body, /portier_process_resident_memory_bytes/);
  t.notMatch(res.body, clientSecret, 'no secret in metrics');
});

t.test('health and readiness', async (t) => {
  const server = await build(t);
  let res = await server.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
  res = await server.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 200);
  await server.database.close();
  res = await server.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503, 'not ready once the database is gone');
  t.equal(res.json().status, 'unavailable');
});
