import { eq } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { Page } from 'playwright-core';
import t from 'tap';
import { clients } from '../../src/db/schema.js';
import { startReceiver, verifySignature } from '../events/receiver.js';
import { addClient, addService, basicAuth, eventually, postToken } from '../helpers.js';
import { browserMissing, checkScreen, openBrowser, signIn, startConsole } from './browser.js';

/**
 * The console's screens for credentials over their life (issue 28), webhooks (issue 29) and
 * certificate clients (issue 31), in Debian's chromium against a real listening Portier: a
 * secret added on the client screen and shown once, that works at the token endpoint until
 * it is removed; what expires soon at the top of the list and the list's filters; a webhook
 * whose secret is shown once and signs a real delivery; a tls_client_auth client made
 * through the form.
 */

const DAY = 86_400_000;
const WEBHOOKS = { webhooks: { allowPrivate: true, timeoutMs: 2000, maxAttempts: 15 } };

/** The client IDs of the clients table, once they are `expected` (the list loads after each change of its URL). */
async function listed(page: Page, expected: string[]): Promise<string[]> {
  return eventually(
    () => page.locator('table.clients tbody tr code').allTextContents(),
    (ids) => ids.join() === expected.join(),
    10_000,
  );
}

/** Closes the secret's dialog, which asks first. */
async function closeSecretDialog(page: Page): Promise<void> {
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await page.getByRole('button', { name: 'Yes, close' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
}

t.test('credentials, webhooks and certificate clients in the console', { skip: browserMissing() }, async (t) => {
  const { server, origin } = await startConsole(t, { config: WEBHOOKS });
  await addService(server.database, { id: 'orders', name: 'Orders', audience: 'https://orders.example', scopes: ['orders:read'] });
  const vendor = await addClient(server, {
    client_id: 'vendor-sync',
    name: 'Vendor sync',
    owner: 'ann',
    grants: [{ service: 'orders', scopes: ['orders:read'] }],
  });
  await addClient(server, { client_id: 'rotating', name: 'Rotating', owner: 'ann' });
  const soon = await server.admin('POST', '/admin/clients/rotating/credentials', {
    kind: 'secret',
    description: 'spring rotation',
    expires_at: new Date(Date.now() + 5 * DAY).toISOString(),
  });
  t.equal(soon.statusCode, 201, 'a secret of "rotating" expires in 5 days');
  const soonId = (soon.json() as { id: string }).id;
  await addClient(server, { client_id: 'later', name: 'Later', owner: 'ann', expires_at: new Date(Date.now() + 20 * DAY).toISOString() });
  await addClient(server, { client_id: 'quiet-one', name: 'Quiet one', owner: 'ann' });
  await server.database.db
    .update(clients)
    .set({ createdAt: new Date(Date.now() - 100 * DAY) })
    .where(eq(clients.clientId, 'quiet-one'));

  const { page, errors } = await openBrowser(t);
  const token = (clientId: string, secret: string) =>
    postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, secret) });
  await page.goto(`${origin}/console`);
  await signIn(page);
  await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();

  await t.test('what expires within 30 days at the top; the expiring and unused filters', async (t) => {
    const box = page.getByRole('region', { name: 'Expiring within 30 days' });
    await box.getByText(soonId).waitFor();
    const lines = await box.getByRole('listitem').allTextContents();
    t.equal(lines.length, 2, 'the credential and the client that expire within 30 days');
    t.match(lines[0], /^Rotating: secret cred_\w+ spring rotation .*expires in 5 days$/, 'the soonest first, with its badge');
    t.match(lines[1], /^Later: the client .*expires in 20 days$/);

    await page.getByLabel('Expires', { exact: true }).selectOption('7');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/expires_within=7/);
    t.same(await listed(page, ['rotating']), ['rotating'], 'within 7 days: the client whose secret expires in 5');
    await page.getByLabel('Expires', { exact: true }).selectOption('30');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/expires_within=30/);
    t.same(await listed(page, ['later', 'rotating']), ['later', 'rotating'], 'within 30 days: the client too');

    await page.getByLabel('Expires', { exact: true }).selectOption('');
    await page.getByLabel('Unused', { exact: true }).selectOption('90');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/unused_for=90/);
    t.same(await listed(page, ['quiet-one']), ['quiet-one'], 'unused for 90 days: never used, made 100 days ago');
    await checkScreen(t, page, 'clients-expiring');
  });

  await t.test('a secret added on the client screen: shown once, works, and stops when removed', async (t) => {
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'Vendor sync' }).click();
    const panel = page.getByRole('region', { name: 'Credentials' });
    await panel.locator('tbody tr').first().waitFor();
    t.equal(await panel.locator('tbody tr').count(), 1, 'its first secret');

    await panel.getByRole('button', { name: 'Add a secret' }).click();
    const form = page.getByRole('form', { name: 'Add a secret' });
    await form.getByLabel(/^Purpose/).fill('rotation test');
    await form.getByRole('button', { name: 'Add a secret' }).click();
    const secret = (await page.getByRole('dialog').getByTestId('client-secret').textContent()) ?? '';
    t.match(secret, /^portier_cred_[0-9A-Za-z]{16}_/, 'the new secret, in the dialog');
    const credentialId = /^portier_(cred_[0-9A-Za-z]{16})_/.exec(secret)?.[1] ?? '';
    t.equal((await token('vendor-sync', secret)).statusCode, 200, 'the new secret gets a token');
    await closeSecretDialog(page);
    t.notOk((await page.content()).includes(secret), 'once closed, the secret is nowhere on the page');

    const row = panel.locator(`tr[data-credential="${credentialId}"]`);
    await row.waitFor();
    t.match(await row.textContent(), /rotation test/, 'listed with its description');
    t.equal(await panel.locator('tbody tr').count(), 2, 'beside the first');
    await checkScreen(t, page, 'client-credentials');

    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Yes, remove' }).click();
    await panel
      .getByRole('status')
      .filter({ hasText: `${credentialId} removed.` })
      .waitFor();
    t.equal(await panel.locator('tbody tr').count(), 1, 'gone from the list');
    t.equal((await token('vendor-sync', secret)).statusCode, 401, 'the removed secret is refused');
    t.equal((await token('vendor-sync', vendor.clientSecret)).statusCode, 200, 'the first secret still works');
  });

  await t.test('a public key added as a JWK: listed with kid, alg and thumbprint; a private JWK refused', async (t) => {
    const key = async (kid: string) => {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      return {
        public: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' },
        private: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
      };
    };
    const first = await key('first');
    await addClient(server, {
      client_id: 'signer',
      name: 'Signer',
      owner: 'ann',
      auth_method: 'private_key_jwt',
      jwks: { keys: [first.public] },
    });
    const second = await key('second');
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'Signer' }).click();
    const panel = page.getByRole('region', { name: 'Credentials' });
    await panel.locator('tbody tr').first().waitFor();
    await panel.getByRole('button', { name: 'Add a public key' }).click();
    const form = page.getByRole('form', { name: 'Add a public key' });
    await form.getByLabel(/^Public key/).fill(JSON.stringify(second.private));
    await form.getByRole('button', { name: 'Add a public key' }).click();
    await form.locator('.field-error').waitFor();
    t.equal(await panel.locator('tbody tr').count(), 1, 'a private JWK: refused under the field, nothing stored');
    await form.getByLabel(/^Public key/).fill(JSON.stringify(second.public));
    await form.getByRole('button', { name: 'Add a public key' }).click();
    await panel.getByRole('status').filter({ hasText: 'Credential added.' }).waitFor();
    const row = panel.locator('tbody tr').filter({ hasText: 'second' });
    t.match(await row.textContent(), /ES256/, 'listed with its alg');
    t.match(await row.textContent(), await calculateJwkThumbprint(second.public), 'and its RFC 7638 thumbprint');
    t.equal(await page.getByRole('dialog').count(), 0, 'a key has no secret to show');
  });

  await t.test('a webhook: its secret shown once signs a real delivery; edited; deliveries listed', async (t) => {
    const receiver = await startReceiver(t);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByText('No webhooks yet.').waitFor();
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel(/^Events:/).fill('dev.portier.webhook.*\ndev.portier.client.*');
    await page.getByLabel('Description').fill('SIEM');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: `Signing secret for ${receiver.url}` }).waitFor();
    const secret = (await dialog.getByTestId('client-secret').textContent()) ?? '';
    t.match(secret, /^whsec_/, 'the signing secret, in the dialog');
    await closeSecretDialog(page);
    await page.waitForURL(/\/console\/webhooks\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').at(-1) ?? '';
    t.notOk((await page.content()).includes(secret), 'once closed, the secret is nowhere on the page');

    await page.getByRole('button', { name: 'Send a test event' }).click();
    await page.getByRole('status').filter({ hasText: 'A test event is on its way' }).waitFor();
    const received = await eventually(
      async () => receiver.received.find((request) => request.body.includes('dev.portier.webhook.test')),
      (request) => request !== undefined,
      20_000,
    );
    const signature = received?.headers['portier-signature'] as string | undefined;
    t.ok(verifySignature(secret, signature, received?.body ?? '', Math.floor(Date.now() / 1000)), 'signed with the secret shown');
    const deliveries = page.getByRole('region', { name: 'Recent deliveries' });
    await eventually(
      async () => {
        await deliveries.getByRole('button', { name: 'Refresh' }).click();
        return deliveries.locator('tbody tr').filter({ hasText: 'dev.portier.webhook.test' }).filter({ hasText: 'delivered' }).count();
      },
      (count) => count === 1,
      10_000,
    );
    t.pass('the delivery is listed as delivered');
    await checkScreen(t, page, 'webhook');

    await page.getByLabel('Description').fill('SIEM (Splunk)');
    await page.getByLabel('Enabled: deliver events').uncheck();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const stored = (await server.admin('GET', `/admin/webhooks/${id}`)).json() as { description: string; enabled: boolean };
    t.same(stored, { ...stored, description: 'SIEM (Splunk)', enabled: false }, 'the change is stored');

    await page.getByRole('link', { name: '← Webhooks' }).click();
    await page.getByRole('link', { name: receiver.url }).waitFor();
    t.match(await page.locator('table.webhooks tbody tr').textContent(), /disabled/, 'listed, disabled');
  });

  await t.test('a tls_client_auth client through the form: its subject DN on the client screen', async (t) => {
    const dn = 'CN=bank-feed,O=Example Bank,C=NL';
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'New client' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Bank feed');
    await page.getByLabel(/^Owner/).fill('ann');
    await page.getByLabel('Sign in with a certificate').selectOption('tls_client_auth');
    await page.getByLabel('The certificate must show').selectOption('tls_client_auth_subject_dn');
    await page.getByLabel('Subject DN (RFC 4514)').fill(dn);
    await checkScreen(t, page, 'create-certificate-client');
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByRole('heading', { name: 'Bank feed', level: 1 }).waitFor();
    await page.locator('dl.details code').filter({ hasText: dn }).waitFor();
    t.pass('the client screen shows the subject DN');
    t.equal(await page.getByRole('region', { name: 'Credentials' }).count(), 0, 'no credentials panel: the certificate is its credential');
    const clientId = decodeURIComponent(page.url().split('/').at(-1) ?? '');
    const stored = (await server.admin('GET', `/admin/clients/${clientId}`)).json() as Record<string, unknown>;
    t.match(stored, {
      auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: dn,
      tls_client_auth_san_dns: null,
      tls_client_certificate_bound_access_tokens: true,
    });

    // Edited: matched by a SPIFFE ID instead; the subject DN goes (exactly one is registered).
    const spiffe = 'spiffe://bank.example/ns/feeds/sa/bank-feed';
    await page.getByRole('button', { name: 'Edit client' }).click();
    await page.getByLabel('The certificate must show').selectOption('tls_client_auth_san_uri');
    await page.getByLabel('URI, e.g. a SPIFFE ID (SAN)').fill(spiffe);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('dl.details code').filter({ hasText: spiffe }).waitFor();
    const edited = (await server.admin('GET', `/admin/clients/${clientId}`)).json() as Record<string, unknown>;
    t.match(edited, { auth_method: 'tls_client_auth', tls_client_auth_san_uri: spiffe, tls_client_auth_subject_dn: null }, 'edited');
  });

  // Chromium logs each 4xx answer: the one expected is the private JWK's 400.
  const refused = /^Failed to load resource: the server responded with a status of 400/;
  t.equal(errors.filter((error) => refused.test(error)).length, 1, 'the private JWK refused, once');
  t.same(
    errors.filter((error) => !refused.test(error)),
    [],
    'no other errors in the browser console',
  );
});
