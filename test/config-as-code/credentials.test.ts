import { exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import { checksum } from '../../src/clients/secrets.js';
import { addService, buildWithAdmin } from '../helpers.js';

// Credentials in configuration as code, through the admin API: a document never holds a
// secret (a field for one, or a client secret of ours pasted anywhere, is refused saying
// so, without repeating it, and nothing is applied); public keys are a client's
// credentials, exported as its `credentials` (each with its description and expiry) and
// applied as those or as its `jwks`, at most MAX_CREDENTIALS_PER_CLIENT of
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
    (entry?.credentials as Array<{ kind: string; jwk: { kid: string } }> | undefined)?.map((key) => [key.kind, key.jwk.kid]),
    [
      ['public_key', 'k0'],
      ['public_key', 'k1'],
      ['public_key', 'k2'],
    ],
    'the keys are exported as credentials',
  );
  t.equal(entry?.jwks, undefined, 'and not a second time as jwks');
  t.notMatch(JSON.stringify(exported), /portier_cred_|"client_secret":|"hash":/, 'no secret, no hash');
  const again = await server.admin('POST', '/admin/config/apply', exported);
  t.same(again.json(), { applied: true, changes: [], secrets: {} }, 'the export applied again changes nothing');
});

t.test(
  'credentials entries: identified by thumbprint, added with their expiry, removed when missing, within the maximum lifetime',
  async (t) => {
    const server = await buildWithAdmin(t, { config: { maxCredentialsPerClient: 5, credentialMaxLifetimeDays: 90 } });
    const [first, second, third] = await keys(3);
    const pem = (await generateKeyPair('ES256', { extractable: true })).publicKey;
    const { exportSPKI } = await import('jose');
    const partner = { client_id: 'partner', name: 'Partner', owner: 'team-a', auth_method: 'private_key_jwt' };
    const apply = (document: unknown) => server.admin('POST', '/admin/config/apply', document);
    const listed = async () =>
      (await server.admin('GET', '/admin/clients/partner/credentials')).json().credentials as Array<{
        id: string;
        kid: string | null;
        description: string;
        expires_at: string | null;
        thumbprint: string;
      }>;
    // Asked-for expiries from one moment; those Portier gives end where the limit says, to the day.
    const start = server.clock.now();
    const inDays = (days: number) => new Date(start + days * DAY).toISOString();
    const days = (expiresAt: string | null) => (expiresAt === null ? null : Math.round((Date.parse(expiresAt) - server.clock.now()) / DAY));

    const created = await apply({
      clients: [
        {
          ...partner,
          credentials: [
            { kind: 'public_key', description: 'vendor job, 2026', expires_at: inDays(30), jwk: first },
            { description: 'from a PEM', pem: await exportSPKI(pem) },
          ],
        },
      ],
    });
    t.equal(created.statusCode, 200, created.body);
    const made = await listed();
    t.same(
      made.map((credential) => [credential.kid, credential.description, days(credential.expires_at)]),
      [
        ['k0', 'vendor job, 2026', 30],
        [null, 'from a PEM', 90],
      ],
      'each with its description, and the expiry asked for or the maximum lifetime’s end',
    );

    const exported = (await server.admin('GET', '/admin/config')).json() as { clients: Array<Record<string, unknown>> };
    const entry = exported.clients.find((client) => client.client_id === 'partner') as Record<string, unknown>;
    t.match(entry.credentials, [
      { kind: 'public_key', description: 'vendor job, 2026', expires_at: inDays(30), jwk: { kid: 'k0' } },
      { kind: 'public_key', description: 'from a PEM', expires_at: made[1]?.expires_at, jwk: { kty: 'EC' } },
    ]);
    t.same((await apply(exported)).json(), { applied: true, changes: [], secrets: {} }, 'export → apply: unchanged');
    t.same(
      (await listed()).map((credential) => credential.id),
      made.map((credential) => credential.id),
      'the same credentials',
    );

    // The jwks form still works, and compares as the same keys.
    const asJwks = { ...partner, jwks: { keys: (entry.credentials as Array<{ jwk: unknown }>).map((credential) => credential.jwk) } };
    t.same((await apply({ clients: [asJwks] })).json().changes, [], 'the same keys as jwks: unchanged');

    const tooLong = await apply({
      clients: [
        { ...entry, credentials: [...(entry.credentials as unknown[]), { description: 'too long', expires_at: inDays(91), jwk: second }] },
      ],
    });
    t.equal(tooLong.statusCode, 400, 'past the maximum lifetime');
    t.match(tooLong.json(), {
      errors: [{ path: 'clients[0].credentials[2].expires_at', message: /at most 90 days.*maximum credential lifetime/ }],
    });
    t.equal((await listed()).length, 2, 'nothing of it applied');

    const privatePart = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const bad = await apply({
      clients: [{ ...partner, credentials: [{ jwk: first }, { jwk: privatePart }, { description: 'again', jwk: first }] }],
    });
    t.equal(bad.statusCode, 400, 'a private key, a key listed twice');
    t.match(bad.json(), {
      errors: [
        { path: 'clients[0].credentials[1].jwk', message: /private/ },
        { path: 'clients[0].credentials[2].jwk', message: /credentials\[0\] again/ },
      ],
    });
    t.notMatch(bad.body, String(privatePart.d), 'the private part is not repeated');
    t.equal((await listed()).length, 2, 'nothing of it applied');

    const added = await apply({
      clients: [
        {
          ...entry,
          credentials: [...(entry.credentials as unknown[]), { description: 'next vendor job', expires_at: inDays(60), jwk: second }],
        },
      ],
    });
    t.equal(added.statusCode, 200, added.body);
    t.match(added.json().changes, [{ op: 'update', kind: 'client', id: 'partner', fields: ['credentials'] }]);
    const three = await listed();
    t.same(
      three.slice(0, 2).map((credential) => credential.id),
      made.map((credential) => credential.id),
      'the others left alone',
    );
    t.match(three[2], { kid: 'k1', description: 'next vendor job', expires_at: inDays(60) }, 'a new one added with its expiry');

    const removed = await apply({
      clients: [{ ...partner, credentials: [{ description: 'next vendor job', expires_at: inDays(60), jwk: second }, { jwk: third }] }],
    });
    t.equal(removed.statusCode, 200, removed.body);
    const now = await listed();
    t.same(
      now.map((credential) => [credential.kid, days(credential.expires_at)]),
      [
        ['k1', 60],
        ['k2', 90],
      ],
      'the ones no longer listed are gone, the new one ends at the maximum lifetime',
    );
    t.equal(now[0]?.id, three[2]?.id, 'the one kept is the same credential');
    // The new key arrived with its end (as updateClient makes every new key): not written a second time.
    const audit = await server.admin('GET', '/admin/audit-events?action=credential.updated');
    t.notMatch(audit.body, now[1]?.id ?? 'missing', 'no credential.updated for the new key');
    t.match(audit.body, now[0]?.id ?? 'missing', 'the expiry asked for is audited naming the credential');
  },
);
