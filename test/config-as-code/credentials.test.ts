import { exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import { checksum } from '../../src/clients/secrets.js';
import { addService, buildWithAdmin } from '../helpers.js';

// Credentials in configuration as code, through the admin API: a document never holds a
// secret (a field for one, or a client secret of ours pasted anywhere, is refused saying
// so, without repeating it, and nothing is applied); public keys are a client's
// credentials, exported and applied as its `jwks`, at most MAX_CREDENTIALS_PER_CLIENT of
// them, ending where CREDENTIAL_MAX_LIFETIME_DAYS says; and a service's
// credential_max_lifetime_days goes both ways.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const VENDOR = { client_id: 'vendor', name: 'Vendor', owner: 'team-a' };
const DAY = 86_400_000;

async function keys(count: number): Promise<Array<Record<string, unknown>>> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => ({
      ...(await exportJWK((await generateKeyPair('ES256')).publicKey)),
      kid: `k${index}`,
    })),
  );
}

t.test('a document that names a secret is refused, saying why, and nothing of it is applied', async (t) => {
  const server = await buildWithAdmin(t);
  const created = await server.admin('POST', '/admin/clients', { client_id: 'existing', name: 'Existing', owner: 'team-a' });
  const secret = (created.json() as { client_secret: string }).client_secret;
  const apply = (document: unknown) => server.admin('POST', '/admin/config/apply', document);

  for (const [document, path, what] of [
    [{ clients: [{ ...VENDOR, client_secret: 'mine' }] }, 'clients[0].client_secret', 'a client_secret field'],
    [
      { clients: [{ ...VENDOR, credentials: [{ kind: 'secret', description: 'x' }] }] },
      'clients[0].credentials[0].kind',
      'a secret credential',
    ],
    [{ clients: [{ ...VENDOR, description: `rotated, the new one is ${secret}` }] }, 'clients[0].description', 'a secret pasted in'],
    [{ services: [{ ...EVENTS, description: secret }], clients: [VENDOR] }, 'services[0].description', 'in another kind'],
  ] as Array<[unknown, string, string]>) {
    const answer = await apply(document);
    t.equal(answer.statusCode, 400, what);
    const body = answer.json() as { errors: Array<{ path: string; message: string }> };
    t.match(body.errors, [{ path, message: /never holds a secret/ }], `${what}: named by its place`);
    t.notOk(answer.body.includes(secret), `${what}: the secret is not repeated`);
  }
  const asYaml = await server.app.inject({
    method: 'POST',
    url: '/admin/config/apply',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/yaml' },
    payload: `clients:\n  - client_id: vendor\n    name: Vendor\n    owner: team-a\n    description: "${secret}"\n`,
  });
  t.equal(asYaml.statusCode, 400, 'YAML too');
  t.equal((await server.admin('GET', '/admin/clients/vendor')).statusCode, 404, 'nothing was applied');

  // A near miss (the shape, a wrong checksum) is not a secret: such a text is applied.
  const body = `portier_cred_${'A'.repeat(16)}_${'b'.repeat(43)}`;
  const wrong = checksum(body) === 'zzzzzz' ? 'yyyyyy' : 'zzzzzz';
  const nearMiss = await apply({ clients: [{ ...VENDOR, description: `${body}_${wrong}` }] });
  t.equal(nearMiss.statusCode, 200, 'a wrong checksum is no secret');
});

t.test('public keys: exported and applied as credentials, at most MAX_CREDENTIALS_PER_CLIENT, within the maximum lifetime', async (t) => {
  const server = await buildWithAdmin(t, { config: { maxCredentialsPerClient: 3, credentialMaxLifetimeDays: 90 } });
  await addService(server.database, EVENTS);
  const partner = { client_id: 'partner', name: 'Partner', owner: 'team-a', auth_method: 'private_key_jwt' };

  const tooMany = await server.admin('POST', '/admin/config/apply', { clients: [{ ...partner, jwks: { keys: await keys(4) } }] });
  t.equal(tooMany.statusCode, 400, 'four keys, three allowed');
  t.match(tooMany.json(), { errors: [{ path: 'clients[0].jwks.keys', message: /has 4 keys.*at most 3 \(MAX_CREDENTIALS_PER_CLIENT\)/ }] });
  const direct = await server.admin('POST', '/admin/clients', { ...partner, jwks: { keys: await keys(4) } });
  t.equal(direct.statusCode, 400, 'through the API as well');
  t.match(direct.json(), { errors: [{ path: '/jwks/keys' }] });

  const three = await keys(3);
  const applied = await server.admin('POST', '/admin/config/apply', {
    services: [{ ...EVENTS, name: 'events', credential_max_lifetime_days: 30 }],
    clients: [{ ...partner, jwks: { keys: three }, grants: [{ service: 'events', scopes: ['events:read'] }] }],
  });
  t.equal(applied.statusCode, 200, applied.body);
  const credentials = (await server.admin('GET', '/admin/clients/partner/credentials')).json().credentials as Array<{
    kind: string;
    kid: string;
    expires_at: string;
  }>;
  t.same(
    credentials.map((credential) => [credential.kind, credential.kid]),
    [
      ['public_key', 'k0'],
      ['public_key', 'k1'],
      ['public_key', 'k2'],
    ],
    'each key a credential',
  );
  for (const credential of credentials) {
    const days = Math.round((Date.parse(credential.expires_at) - server.clock.now()) / DAY);
    t.equal(days, 30, 'ending where the smallest limit says, as through the API');
  }
  const patched = await server.admin('PATCH', '/admin/clients/partner', { jwks: { keys: await keys(4) } });
  t.equal(patched.statusCode, 400, 'a PATCH past the limit too');

  const exported = (await server.admin('GET', '/admin/config')).json() as {
    services: Array<Record<string, unknown>>;
    clients: Array<Record<string, unknown>>;
  };
  t.match(
    exported.services.find((service) => service.id === 'events'),
    { credential_max_lifetime_days: 30 },
    'the policy is exported',
  );
  const entry = exported.clients.find((client) => client.client_id === 'partner');
  t.same(
    (entry?.jwks as { keys: Array<{ kid: string }> } | undefined)?.keys.map((key) => key.kid),
    ['k0', 'k1', 'k2'],
    'the keys are exported',
  );
  t.notMatch(JSON.stringify(exported), /portier_cred_|"client_secret":|"hash":/, 'no secret, no hash');
  const again = await server.admin('POST', '/admin/config/apply', exported);
  t.same(again.json(), { applied: true, changes: [], secrets: {} }, 'the export applied again changes nothing');
});
