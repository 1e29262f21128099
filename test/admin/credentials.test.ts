import { createPublicKey, generateKeyPairSync, type JsonWebKey, X509Certificate } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { checksum, generateSelfIdentifyingSecret, newCredentialId } from '../../src/clients/secrets.js';
import type { Config } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { addService, basicAuth, buildWithAdmin, eventually, openBudgets, postToken, runCli } from '../helpers.js';
import { selfSignedCertificate } from '../pki.js';

// A client's credentials as records of their own: GET, POST and DELETE
// /admin/clients/{id}/credentials, the maximum per client, self-identifying secrets at the
// token endpoint, and the regeneration that keeps working on top of them.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };

async function setUp(t: Test, config: Partial<Config> = {}) {
  const server = await buildWithAdmin(t, { config });
  await addService(server.database, EVENTS);
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'vendor',
    name: 'Vendor',
    owner: 'team-a',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(created.statusCode, 201);
  const argon2 = async () => (await server.app.portier.metrics.argon2Verifications.get()).values[0]?.value ?? 0;
  const token = (secret: string, clientId = 'vendor') =>
    postToken(server.app, { grant_type: 'client_credentials', resource: EVENTS.audience }, { authorization: basicAuth(clientId, secret) });
  const list = async (clientId = 'vendor') =>
    (await server.admin('GET', `/admin/clients/${clientId}/credentials`)).json().credentials as Array<Record<string, unknown>>;
  const addSecret = (body: Record<string, unknown> = {}) =>
    server.admin('POST', '/admin/clients/vendor/credentials', { kind: 'secret', ...body });
  return { ...server, first: created.json().client_secret as string, argon2, token, list, addSecret };
}

const SECRET_SHAPE = /^portier_(cred_[0-9A-Za-z]{16})_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/;

t.test('a client is created with one self-identifying secret, listed as a credential without its hash', async (t) => {
  const { first, list, token } = await setUp(t);
  t.match(first, SECRET_SHAPE, 'the secret names its credential');
  const credentials = await list();
  t.equal(credentials.length, 1);
  t.match(credentials[0], { id: SECRET_SHAPE.exec(first)?.[1], kind: 'secret', status: 'active', expires_at: null, last_used_at: null });
  t.notOk(JSON.stringify(credentials).includes('argon2'), 'no hash is listed');
  t.notOk(JSON.stringify(credentials).includes(first.slice(30)), 'nor the secret');
  t.equal((await token(first)).statusCode, 200);
});

t.test('add a second secret, move over, remove the first: no outage, and the first is refused at once', async (t) => {
  const { first, list, token, addSecret, admin, app } = await setUp(t);
  const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const added = await addSecret({ description: 'rotation 2026', expires_at: expiresAt });
  t.equal(added.statusCode, 201);
  const second = added.json();
  t.match(second.secret, SECRET_SHAPE, 'the new secret, shown this once');
  t.match(second, { kind: 'secret', description: 'rotation 2026', expires_at: expiresAt, created_by_name: 'root-admin' });
  t.equal((await token(first)).statusCode, 200, 'the first still works');
  t.equal((await token(second.secret)).statusCode, 200, 'the second works');
  t.notOk(JSON.stringify(await list()).includes(second.secret.slice(30)), 'the list never shows a secret');

  // last_used_at, per credential.
  await app.portier.lastUsed.flush();
  const used = await list();
  t.ok(
    used.every((credential) => typeof credential.last_used_at === 'string'),
    'each has its last use',
  );

  const firstId = SECRET_SHAPE.exec(first)?.[1] ?? '';
  const removed = await admin('DELETE', `/admin/clients/vendor/credentials/${firstId}`);
  t.equal(removed.statusCode, 204);
  t.equal((await token(first)).statusCode, 401, 'the removed one is refused from the next request on');
  t.equal((await token(second.secret)).statusCode, 200, 'the other keeps working');
  t.same(
    (await list()).map((credential) => credential.id),
    [second.id],
    'a removed credential is no longer listed',
  );
  t.equal((await admin('DELETE', `/admin/clients/vendor/credentials/${firstId}`)).statusCode, 404, 'removing it again: 404');

  const audit = await app.portier.db.select().from(auditEvents).where(eq(auditEvents.clientId, 'vendor'));
  const actions = audit.map((event) => [event.action, (event.details as Record<string, unknown>).credential_id]);
  t.ok(
    actions.some(([action, id]) => action === 'credential.added' && id === second.id),
    'credential.added names the credential',
  );
  t.ok(
    actions.some(([action, id]) => action === 'credential.removed' && id === firstId),
    'credential.removed names the credential',
  );
  const denials = await eventually(
    async () => JSON.stringify(await app.portier.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'))),
    (found) => found.includes(firstId),
  );
  t.match(denials, firstId, 'the denial of the removed secret names its credential');
});

t.test('at most MAX_CREDENTIALS_PER_CLIENT live ones: one more is 409 naming which to remove, also in parallel', async (t) => {
  const { addSecret, list } = await setUp(t, { maxCredentialsPerClient: 3 });
  t.equal((await addSecret()).statusCode, 201);
  const [a, b] = await Promise.all([addSecret(), addSecret()]);
  t.same([a.statusCode, b.statusCode].sort(), [201, 409], 'two parallel adds past the maximum: one succeeds, one is 409');
  const refused = a.statusCode === 409 ? a : b;
  t.match(refused.json().detail, /MAX_CREDENTIALS_PER_CLIENT.*remove one first.*cred_[0-9A-Za-z]{16}/, 'naming one to remove');
  t.equal((await list()).length, 3, 'no fourth credential');
  // An expired one does not count.
});

t.test('expiry: an expired credential is refused like a wrong secret', async (t) => {
  const { addSecret, token, clock, argon2, list } = await setUp(t);
  const added = (await addSecret({ expires_at: new Date(Date.now() + 600_000).toISOString() })).json();
  t.equal((await token(added.secret)).statusCode, 200);
  clock.advance(1200_000); // 20 minutes: past its expiry, within the admin token's lifetime
  const before = await argon2();
  t.equal((await token(added.secret)).statusCode, 401, 'expired: invalid_client');
  t.equal((await argon2()) - before, 1, 'at the cost of a wrong secret');
  t.match(
    (await list()).find((credential) => credential.id === added.id),
    { status: 'expired' },
    'listed as expired',
  );
  t.equal((await addSecret({ expires_at: new Date(Date.now() - 1000).toISOString() })).statusCode, 400, 'an expiry in the past: 400');
});

t.test('self-identifying secrets: a wrong checksum, another prefix or another client’s credential cost no argon2', async (t) => {
  const { first, token, argon2, admin } = await setUp(t);
  const id = SECRET_SHAPE.exec(first)?.[1] ?? '';
  const body = first.slice(0, -7);
  const wrongChecksum = `${body}_${checksum(`${body}x`)}`;
  const otherPrefix = generateSelfIdentifyingSecret(id, 'acme');
  const other = await admin('POST', '/admin/clients', { client_id: 'other', name: 'Other', owner: 'team-b' });
  const otherId = SECRET_SHAPE.exec(other.json().client_secret)?.[1] ?? '';
  const before = await argon2();
  for (const [label, secret] of [
    ['a wrong checksum', wrongChecksum],
    ['another prefix', otherPrefix],
    ['a truncated secret', first.slice(0, -1)],
    ['a secret of another client', other.json().client_secret],
    ['a made-up credential id', generateSelfIdentifyingSecret(newCredentialId())],
  ] as const) {
    const answer = await token(secret);
    t.equal(answer.statusCode, 401, `${label}: 401`);
    t.equal(answer.json().error, 'invalid_client', `${label}: invalid_client`);
  }
  t.equal((await argon2()) - before, 0, 'none of them cost an argon2 verification');
  t.not(otherId, id);
  const wrongRandom = generateSelfIdentifyingSecret(id);
  t.equal((await token(wrongRandom)).statusCode, 401, 'a well-formed wrong secret of its credential');
  t.equal((await argon2()) - before, 1, 'costs exactly one');
});

t.test('secrets refused by their checksum still spend the failure budget', async (t) => {
  const { first, token } = await setUp(t, { protection: openBudgets({ failuresPerClientAndAddress: 3 }) });
  const body = first.slice(0, -7);
  const forged = `${body}_${checksum(`${body}x`)}`;
  const answers: number[] = [];
  for (let i = 0; i < 4; i++) answers.push((await token(forged)).statusCode);
  t.same(answers, [401, 401, 401, 429], 'three refusals, then the caller waits');
  t.equal((await token(first)).statusCode, 429, 'even with the right secret, until its budget refills');
});

t.test('POST /secret adds a secret and gives the others its expiry', async (t) => {
  const { first, token, admin, list, addSecret } = await setUp(t);
  const second = (await addSecret()).json();
  const answer = await admin('POST', '/admin/clients/vendor/secret', { previous_secret_valid_for: 3600 });
  t.equal(answer.statusCode, 200);
  const { client_secret: third, previous_secret_expires_at: until } = answer.json();
  t.match(third, SECRET_SHAPE);
  const credentials = await list();
  t.equal(credentials.length, 3);
  t.same(
    credentials
      .filter((credential) => credential.expires_at === until)
      .map((credential) => credential.id)
      .sort(),
    [SECRET_SHAPE.exec(first)?.[1], second.id].sort(),
    'the other secrets expire with the grace period',
  );
  for (const secret of [first, second.secret, third]) t.equal((await token(secret)).statusCode, 200, 'all three work meanwhile');
  const now = await admin('POST', '/admin/clients/vendor/secret', {});
  t.equal(now.statusCode, 200);
  for (const secret of [first, second.secret, third])
    t.equal((await token(secret)).statusCode, 401, 'without a grace period the others go at once');
  t.equal((await token(now.json().client_secret)).statusCode, 200);
});

t.test('public keys: a JWK, a PEM public key or a certificate; never a private key', async (t) => {
  const { admin, list } = await setUp(t);
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  t.equal(
    (
      await admin('POST', '/admin/clients', {
        client_id: 'signer',
        name: 'S',
        owner: 'o',
        auth_method: 'private_key_jwt',
        jwks: { keys: [jwk] },
      })
    ).statusCode,
    201,
  );
  const add = (body: Record<string, unknown>) => admin('POST', '/admin/clients/signer/credentials', { kind: 'public_key', ...body });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const fromPem = await add({ pem, description: 'from a PEM' });
  t.equal(fromPem.statusCode, 201, 'a PEM public key');
  t.match(fromPem.json(), { kind: 'public_key', thumbprint: /^[A-Za-z0-9_-]{43}$/ });
  t.notOk('secret' in fromPem.json(), 'no secret for a key');

  const certificate = selfSignedCertificate().cert;
  const fromCertificate = await add({ pem: certificate });
  t.equal(fromCertificate.statusCode, 201, 'an X.509 certificate: its key');
  const certificateKey = new X509Certificate(certificate).publicKey.export({ format: 'jwk' });
  t.match(fromCertificate.json().jwk, { kty: certificateKey.kty, n: certificateKey.n });

  const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const refusedPem = await add({ pem: privatePem });
  t.equal(refusedPem.statusCode, 400, 'a PEM private key: 400');
  t.match(JSON.stringify(refusedPem.json()), /private key is refused/);
  const privateJwk = rsa.privateKey.export({ format: 'jwk' });
  t.equal((await add({ jwk: privateJwk })).statusCode, 400, 'a private JWK: 400');
  t.equal((await add({ jwk: { kty: 'oct', k: 'c2VjcmV0' } })).statusCode, 400, 'a symmetric key: 400');
  t.equal(
    (await add({ pem: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----' })).statusCode,
    400,
    'a PEM that is no key: 400',
  );
  t.equal((await add({ pem: 'hello' })).statusCode, 400, 'no PEM at all: 400');
  t.equal((await list('signer')).length, 3, 'nothing stored of the refused ones');

  const secretForSigner = await admin('POST', '/admin/clients/signer/credentials', { kind: 'secret' });
  t.equal(secretForSigner.statusCode, 409, 'a secret for a private_key_jwt client: 409');
  t.equal(
    (await admin('POST', '/admin/clients/vendor/credentials', { kind: 'public_key', jwk })).statusCode,
    409,
    'a key for a secret client: 409',
  );
  const jwks = (await admin('GET', '/admin/clients/signer')).json().jwks;
  t.equal(jwks.keys.length, 3, 'the keys show in the client jwks too');
});

t.test('maximum lifetime: CREDENTIAL_MAX_LIFETIME_DAYS and a service’s credential_max_lifetime_days, the smallest wins', async (t) => {
  const { first, list, addSecret, admin, token } = await setUp(t, { credentialMaxLifetimeDays: 90 });
  const days = (iso: unknown) => Math.round((Date.parse(String(iso)) - Date.now()) / 86_400_000);
  const [initial] = await list();
  t.equal(days(initial?.expires_at), 90, 'the first secret ends after 90 days');
  t.equal(initial?.over_policy, false);
  t.equal(days((await addSecret()).json().expires_at), 90, 'a new one without expires_at: 90 days');
  const tooLate = await addSecret({ expires_at: new Date(Date.now() + 100 * 86_400_000).toISOString() });
  t.equal(tooLate.statusCode, 400, 'a later one: 400');
  t.match(JSON.stringify(tooLate.json()), /at most 90 days/, 'naming the limit');
  t.equal(
    days((await addSecret({ expires_at: new Date(Date.now() + 10 * 86_400_000).toISOString() })).json().expires_at),
    10,
    'a sooner one',
  );

  // The service sets less: new credentials follow it, those made before are over policy but keep working.
  t.equal((await admin('PATCH', '/admin/services/events', { credential_max_lifetime_days: 30 })).statusCode, 200);
  t.equal(days((await addSecret()).json().expires_at), 30, 'a new one: 30 days, the smaller limit');
  const listed = await list();
  t.same(
    listed.map((credential) => [days(credential.expires_at), credential.over_policy]),
    [
      [90, true],
      [90, true],
      [10, false],
      [30, false],
    ],
    'over_policy for those beyond the new limit',
  );
  t.equal((await token(first)).statusCode, 200, 'an over-policy credential is not cut off');
  const regenerated = await admin('POST', '/admin/clients/vendor/secret', { previous_secret_valid_for: 60 });
  t.equal(
    days(
      (await list()).find(
        (credential) => credential.expires_at !== null && days(credential.expires_at) === 30 && credential.id !== listed[3]?.id,
      )?.expires_at,
    ),
    30,
    'a regenerated secret too',
  );
  t.equal(regenerated.statusCode, 200);
});

t.test('maximum lifetime: keys a jwks PATCH adds, and the secret of a switch to client_secret, end within it too', async (t) => {
  const { admin, list } = await setUp(t, { credentialMaxLifetimeDays: 90 });
  t.equal((await admin('PATCH', '/admin/services/events', { credential_max_lifetime_days: 30 })).statusCode, 200);
  const key = async (kid: string) => ({ ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid });
  const [first, second] = [await key('k1'), await key('k2')];
  const created = await admin('POST', '/admin/clients', {
    client_id: 'signer',
    name: 'S',
    owner: 'o',
    auth_method: 'private_key_jwt',
    jwks: { keys: [first] },
  });
  t.equal(created.statusCode, 201);
  const [kept] = await list('signer');
  const latest = (days: number) => Date.now() + days * 86_400_000;
  t.ok(Date.parse(String(kept?.expires_at)) <= latest(90), 'the first key: within CREDENTIAL_MAX_LIFETIME_DAYS');

  // The grant to events (30 days) comes with the PATCH: the new key's end follows it.
  const patched = await admin('PATCH', '/admin/clients/signer', {
    jwks: { keys: [first, second] },
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(patched.statusCode, 200, patched.body);
  const keys = await list('signer');
  t.equal(keys.length, 2);
  t.same(keys[0], { ...kept, over_policy: true }, 'the key given again keeps its credential and its end (now beyond the 30 days)');
  const added = keys[1];
  t.equal(added?.kid, 'k2');
  t.ok(added?.expires_at !== null, 'the added key has an end');
  t.ok(Date.parse(String(added?.expires_at)) <= latest(30), `within the 30 days of its new grant (${added?.expires_at})`);
  t.ok(Date.parse(String(added?.expires_at)) > latest(29), 'the limit itself, none being asked for');
  t.equal(added?.over_policy, false);

  const switched = await admin('PATCH', '/admin/clients/signer', { auth_method: 'client_secret' });
  t.equal(switched.statusCode, 200, switched.body);
  t.type(switched.json().client_secret, 'string', 'a new secret, shown this once');
  const [secret, ...others] = await list('signer');
  t.same(others, [], 'the keys are gone');
  t.equal(secret?.kind, 'secret');
  t.ok(secret?.expires_at !== null, 'the new secret has an end');
  t.ok(Date.parse(String(secret?.expires_at)) <= latest(30), `within the maximum lifetime (${secret?.expires_at})`);
});

t.test('a key the client has already: POST .../credentials is 409 naming it; one jwks with a key twice is 400', async (t) => {
  const { admin, list } = await setUp(t);
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
  const created = await admin('POST', '/admin/clients', {
    client_id: 'signer',
    name: 'S',
    owner: 'o',
    auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] },
  });
  t.equal(created.statusCode, 201);
  const [registered] = await list('signer');
  const add = (body: Record<string, unknown>) => admin('POST', '/admin/clients/signer/credentials', { kind: 'public_key', ...body });

  const again = expectProblem(t, await add({ jwk: { ...jwk, kid: 'another kid', alg: 'ES256' } }), 409, 'the same key under another kid');
  t.match(again.detail, new RegExp(`already, as credential ${registered?.id} \\(the same JWK thumbprint\\)`), 'naming the credential');
  const asPem = await add({ pem: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) });
  expectProblem(t, asPem, 409, 'the same key as a PEM');
  t.equal((await list('signer')).length, 1, 'no second credential of it');

  t.equal((await admin('DELETE', `/admin/clients/signer/credentials/${registered?.id}`)).statusCode, 204);
  const readded = await add({ jwk });
  t.equal(readded.statusCode, 201, 'a removed key may be registered again');

  const other = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid: 'k2' };
  const twice = { keys: [jwk, other, { ...jwk, kid: 'k3' }] };
  const patched = expectInvalid(t, await admin('PATCH', '/admin/clients/signer', { jwks: twice }), ['/jwks/keys/2'], 'a jwks PATCH');
  t.match(patched.errors, [{ path: '/jwks/keys/2', message: 'is the key of /jwks/keys/0 again (the same JWK thumbprint)' }]);
  const twiceAtCreate = await admin('POST', '/admin/clients', {
    client_id: 'twice',
    name: 'T',
    owner: 'o',
    auth_method: 'private_key_jwt',
    jwks: twice,
  });
  expectInvalid(t, twiceAtCreate, ['/jwks/keys/2'], 'a new client');
  t.same(
    (await list('signer')).map((credential) => credential.kid),
    ['k1'],
    'nothing of the refused PATCH stored',
  );
});

t.test('POST /admin/credentials/revoke-leaked: exactly the matching credentials, audited, the tokens never echoed', async (t) => {
  const { first, addSecret, token, admin, app, list } = await setUp(t);
  const second = (await addSecret()).json();
  const firstId = SECRET_SHAPE.exec(first)?.[1];
  const report = [
    { token: first, type: 'portier_client_secret', url: 'https://github.com/acme/app/blob/abc/.env', source: 'content' },
    { token: generateSelfIdentifyingSecret(second.id), type: 'portier_client_secret', url: 'https://example.com', source: 'gist' },
    { token: 'not a secret at all', type: 'portier_client_secret', url: 'https://example.com', source: 'gist' },
    { token: first, type: 'portier_client_secret', url: 'https://github.com/acme/app/blob/def/.env', source: 'content' },
  ];
  const answer = await admin('POST', '/admin/credentials/revoke-leaked', report);
  t.equal(answer.statusCode, 200);
  t.same(answer.json().results, [
    { credential_id: firstId, client_id: 'vendor', outcome: 'revoked' },
    { credential_id: null, client_id: null, outcome: 'unknown' },
    { credential_id: null, client_id: null, outcome: 'ill_formed' },
    { credential_id: firstId, client_id: 'vendor', outcome: 'already_revoked' },
  ]);
  t.notOk(answer.body.includes(first.slice(30)), 'no token is echoed');
  t.equal((await token(first)).statusCode, 401, 'the leaked secret is refused at once');
  t.equal((await token(second.secret)).statusCode, 200, 'the other one, whose id was guessed, is untouched');
  t.match(
    (await list()).find((credential) => credential.id === firstId),
    { status: 'revoked', revoked_reason: 'leaked' },
    'listed as revoked',
  );
  const leaked = await app.portier.db.select().from(auditEvents).where(eq(auditEvents.action, 'credential.leaked'));
  t.equal(leaked.length, 1, 'one credential.leaked');
  t.match(leaked[0]?.details, { credential_id: firstId, url: 'https://github.com/acme/app/blob/abc/.env', source: 'content' });
  t.notOk(JSON.stringify(leaked).includes(first.slice(30)), 'and the audit trail never holds the token');
});

t.test('CLI: portier clients credentials list|add|remove', async (t) => {
  const { database, token, list } = await setUp(t);
  const cli = (...args: string[]) => runCli(database, args);
  const added = await cli(
    'clients',
    'credentials',
    'add',
    'vendor',
    '--description',
    'from the CLI',
    '--expires-at',
    '2099-01-01T00:00:00Z',
  );
  t.equal(added.code, 0, added.stderr);
  const secret = added.stdout.trim().split('\n').pop() ?? '';
  t.match(secret, SECRET_SHAPE, 'the secret is printed last, once');
  t.equal((await token(secret)).statusCode, 200, 'and works');
  const listed = await cli('clients', 'credentials', 'list', 'vendor');
  t.equal(listed.code, 0);
  const credentials = JSON.parse(listed.stdout).credentials as Array<{ id: string; description: string }>;
  t.equal(credentials.length, 2);
  t.notOk(listed.stdout.includes(secret.slice(30)), 'the list shows no secret');
  const id = credentials.find((credential) => credential.description === 'from the CLI')?.id ?? '';
  const removed = await cli('clients', 'credentials', 'remove', 'vendor', id);
  t.equal(removed.code, 0, removed.stderr);
  t.equal((await list()).length, 1);
  t.not((await cli('clients', 'credentials', 'remove', 'vendor', id)).code, 0, 'removing it again fails');
});
