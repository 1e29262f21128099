import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { addClient, addService, postToken } from '../helpers.js';
import { browserMissing, checkScreen, openBrowser, signIn, startConsole } from './browser.js';

/**
 * The console's Trusted issuers screen and federated clients, in Debian's chromium against
 * a listening Portier: create an issuer (errors next to their fields), create a client
 * that signs in with its platform's token, see it sign in, edit its identities, and the
 * 409 that names the client when its issuer is deleted. One page, visited in order.
 */

t.test('trusted issuers and federated clients in the console', { skip: browserMissing() }, async (t) => {
  const { server, origin } = await startConsole(t);
  await addService(server.database, { id: 'orders', name: 'Orders', audience: 'https://orders.example', scopes: ['orders:read'] });
  const reader = await addClient(server, {
    client_id: 'reader',
    name: 'Read-only admin',
    owner: 'ops',
    grants: [{ service: 'portier-admin', scopes: ['admin:read'] }],
  });
  // The platform: a cluster whose keys are pasted into Portier (nothing to fetch).
  const platform = await generateKeyPair('RS256', { extractable: true });
  const platformJwks = { keys: [{ ...(await exportJWK(platform.publicKey)), kid: 'cluster-key', alg: 'RS256' }] };
  const CLUSTER = 'https://kubernetes.prod.example';

  const { context, page, errors } = await openBrowser(t);
  await page.goto(`${origin}/console`);
  await signIn(page);
  await page.getByRole('heading', { name: 'Clients' }).waitFor();

  await t.test('the screen: empty, then a new issuer (errors next to their fields), listed', async (t) => {
    await page.getByRole('link', { name: 'Trusted issuers', exact: true }).click();
    await page.getByRole('heading', { name: 'Trusted issuers', level: 1 }).waitFor();
    await page.getByText('No trusted issuers.').waitFor();
    t.equal(await page.getByRole('link', { name: 'Trusted issuers', exact: true }).getAttribute('aria-current'), 'page');

    await page.getByLabel(/^Trusted issuer ID/).fill('Prod Cluster!');
    await page.getByLabel(/^Issuer/).fill('http://kubernetes.prod.example');
    await page.getByLabel(/^Pasted here/).check();
    await page.getByLabel(/^Public keys/).fill('{"keys": [');
    await page.getByRole('button', { name: 'Create trusted issuer' }).click();
    await page.getByText('is not JSON: paste a key set').waitFor();
    t.pass('keys that are not JSON: said at once, next to the field');

    await page.getByLabel(/^Public keys/).fill(JSON.stringify(platformJwks));
    await page.getByLabel(/^Oldest token accepted/).fill('10');
    await page.getByRole('button', { name: 'Create trusted issuer' }).click();
    for (const field of ['id', 'issuer', 'max_token_age']) {
      await page.locator(`#issuer-error-${field}`).waitFor();
      t.pass(`the API's error for ${field} is shown next to it`);
    }
    t.equal(await page.getByLabel(/^Oldest token accepted/).getAttribute('aria-invalid'), 'true', 'the field is marked invalid');

    await page.getByLabel(/^Trusted issuer ID/).fill('prod-cluster');
    await page.getByLabel(/^Issuer/).fill(CLUSTER);
    await page.getByLabel(/^Oldest token accepted/).fill('3600');
    await page.getByLabel('EdDSA').uncheck();
    await page.getByRole('button', { name: 'Create trusted issuer' }).click();
    await page.getByRole('status').filter({ hasText: 'Trusted issuer prod-cluster created.' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'prod-cluster' });
    await row.waitFor();
    t.match(await row.textContent(), /1 pasted key(?!s)/, 'listed with where its keys are');
    await checkScreen(t, page, 'trusted-issuers', true);
  });

  await t.test('edit an issuer', async (t) => {
    await page.getByRole('link', { name: 'prod-cluster' }).click();
    await page.getByRole('heading', { name: 'Trusted issuer prod-cluster' }).waitFor();
    t.equal(await page.getByLabel('EdDSA').isChecked(), false, 'the form shows its algorithms');
    await page.getByLabel(/^Oldest token accepted/).fill('1800');
    await page.getByRole('button', { name: 'Save trusted issuer' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    t.equal((await server.admin('GET', '/admin/trusted-issuers/prod-cluster')).json().max_token_age, 1800, 'saved');
    await checkScreen(t, page, 'trusted-issuer', true);
  });

  await t.test('a new client that signs in with its platform’s token: no secret, straight to its screen', async (t) => {
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'New client' }).click();
    await page.getByRole('heading', { name: 'New client' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Payments reporter');
    await page.getByLabel(/^Client ID/).fill('payments-reporter');
    await page.getByLabel('Owner').fill('payments');
    await page.getByLabel('Service').selectOption('orders');
    await page.getByLabel('orders:read').check();
    await page.getByRole('button', { name: 'Add grant' }).click();
    await page.getByLabel(/^With its platform's token/).check();
    await page.getByRole('button', { name: 'Add identity' }).click();
    await page.getByLabel('Identity 1: trusted issuer').selectOption('prod-cluster');
    await page.getByLabel(/^Identity 1: subject/).fill('system:serviceaccount:payments:reporter');
    await page.getByLabel(/^Identity 1: claims/).fill('no equals sign');
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.locator('#error-federated_identities').filter({ hasText: 'is not name=value' }).waitFor();
    t.pass('a claim line without "=": said next to the identities');
    await page.getByLabel(/^Identity 1: claims/).fill('/kubernetes.io/namespace=payments');
    await checkScreen(t, page, 'create-federated-client', true);
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByRole('heading', { name: 'Payments reporter' }).waitFor();
    t.equal(await page.getByRole('dialog').count(), 0, 'no secret dialog');
    const identities = page.locator('dl.details > div > dd').filter({ hasText: 'system:serviceaccount:payments:reporter' });
    await identities.waitFor();
    t.match(
      await identities.textContent(),
      /prod-cluster: system:serviceaccount:payments:reporter, \/kubernetes\.io\/namespace = payments/,
    );
    t.match(await page.locator('dd').filter({ hasText: 'platform identities (federated)' }).count(), 1, 'its authentication');
  });

  await t.test('the pod signs in; the client screen shows which identity it was', async (t) => {
    const now = Math.floor(Date.now() / 1000);
    const podToken = await new SignJWT({
      iss: CLUSTER,
      sub: 'system:serviceaccount:payments:reporter',
      aud: [server.config.issuer],
      iat: now,
      nbf: now,
      exp: now + 3600,
      'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'reporter', uid: 'u-1' }, pod: { name: 'reporter-1', uid: 'p-1' } },
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'cluster-key' })
      .sign(platform.privateKey);
    const response = await postToken(server.app, {
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: podToken,
    });
    t.equal(response.statusCode, 200, 'a token for the pod');
    await server.app.portier.lastUsed.flush();
    await page.reload();
    await page.getByLabel('Client ID').waitFor();
    await signIn(page);
    await page.goto(`${origin}/console/clients/payments-reporter`);
    await page.getByLabel('Client ID').waitFor();
    await signIn(page);
    const lastUsedBy = page.locator('.details div').filter({ hasText: 'Last used by' });
    await lastUsedBy.waitFor();
    t.match(await lastUsedBy.textContent(), /prod-cluster: system:serviceaccount:payments:reporter/);
  });

  await t.test('edit the identities', async (t) => {
    await page.getByRole('button', { name: 'Edit client' }).click();
    t.equal(await page.getByLabel(/^Identity 1: subject/).inputValue(), 'system:serviceaccount:payments:reporter', 'filled in');
    await page.getByRole('button', { name: 'Add identity' }).click();
    await page.getByLabel('Identity 2: trusted issuer').selectOption('prod-cluster');
    await page.getByLabel(/^Identity 2: subject/).fill('system:serviceaccount:payments:reporter-canary');
    await page.getByRole('button', { name: 'Save changes' }).click();
    // The identities' row (the change history's before → after names the subject too).
    await page
      .locator('dd')
      .filter({ hasText: /^prod-cluster: [\s\S]*reporter-canary/ })
      .waitFor();
    const stored = (await server.admin('GET', '/admin/clients/payments-reporter')).json().federated_identities as unknown[];
    t.equal(stored.length, 2, 'two identities saved');
  });

  await t.test('deleting an issuer a client uses: refused, naming the client', async (t) => {
    await page.goto(`${origin}/console/trusted-issuers/prod-cluster`);
    await page.getByLabel('Client ID').waitFor();
    await signIn(page);
    await page.getByRole('button', { name: 'Delete trusted issuer' }).click();
    await page.getByRole('button', { name: 'Yes, delete trusted issuer' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /still used by clients: payments-reporter/ })
      .waitFor();
    t.pass('the 409 names the client');
    t.equal((await server.admin('GET', '/admin/trusted-issuers/prod-cluster')).statusCode, 200, 'still there');
  });

  await t.test('an issuer a configuration apply made is marked managed, in the list and on its screen', async (t) => {
    const applied = await server.admin('POST', '/admin/config/apply', {
      trusted_issuers: [{ id: 'ci-platform', issuer: 'https://ci.example' }],
    });
    t.equal(applied.statusCode, 200, applied.body);
    await page.getByRole('link', { name: 'Trusted issuers', exact: true }).click();
    const rows = page.locator('table.issuers tbody tr');
    await rows.filter({ hasText: 'ci-platform' }).waitFor();
    t.match(await rows.filter({ hasText: 'ci-platform' }).locator('td[data-label="ID"]').innerText(), /\(managed by configuration\)/);
    t.notMatch(
      await rows.filter({ hasText: 'prod-cluster' }).locator('td[data-label="ID"]').innerText(),
      /managed/,
      'not one made otherwise',
    );
    await page.getByRole('link', { name: 'ci-platform' }).click();
    await page.getByText(/^Managed by configuration: created by a configuration apply/).waitFor();
    t.pass('its screen says so');
  });

  await t.test('a read-only admin sees the issuer, with no form', async (t) => {
    const other = await context.newPage();
    await other.goto(`${origin}/console/trusted-issuers/prod-cluster`);
    await signIn(other, reader.clientId, reader.clientSecret);
    await other.locator('.details').filter({ hasText: CLUSTER }).waitFor();
    t.match(await other.locator('.details').innerText(), /Managed\s+No: made through the API/, 'with its managed mark');
    t.equal(await other.getByRole('button', { name: 'Save trusted issuer' }).count(), 0, 'no edit form');
    await other.getByRole('link', { name: 'Trusted issuers', exact: true }).click();
    await other.getByRole('row').filter({ hasText: 'prod-cluster' }).waitFor();
    t.equal(await other.getByRole('button', { name: 'Create trusted issuer' }).count(), 0, 'no create form');
    await other.close();
  });

  t.same(
    errors.filter((error) => !/status of (400|409)/.test(error)),
    [],
    'nothing in the browser console but the refused requests',
  );
});
