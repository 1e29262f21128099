import type { Browser, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.js';
import { addService, eventually, freePort } from '../helpers.js';
import { ssoConfig, startIdp } from '../people/idp.js';
import { accessibilityViolations, browserMissing, launchBrowser, openPage, screenshots, startConsole } from './browser.js';

/**
 * The console with people signing in through a real OpenID Connect provider
 * (node-oidc-provider on 127.0.0.2, another site than Portier on 127.0.0.1), in Debian's
 * chromium: each person signs in on the provider's own login page and sees what their
 * role gives them. An operator creates a client and sees it, another operator does not,
 * an admin sees everything, an auditor reads but cannot change; sign-out is one click.
 */

/** What Chromium logs for a fetch answered 4xx: expected where a test asks for a refusal. */
const REFUSED_FETCH = /^Failed to load resource: the server responded with a status of (401|403|404)/;

t.test('people in the console, signed in through the identity provider', { skip: browserMissing() }, async (t) => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startIdp(t, { redirectUris: [`${origin}/console/auth/callback`] });
  const { server } = await startConsole(t, { port, config: ssoConfig(idp, origin) });
  await addService(server.database, {
    id: 'orders',
    name: 'Orders',
    audience: 'https://orders.example',
    scopes: ['orders:read', 'orders:write'],
  });
  await addService(server.database, { id: 'billing', name: 'Billing', audience: 'https://billing.example', scopes: ['billing:read'] });
  t.equal(
    (
      await server.admin('PATCH', '/admin/services/orders', {
        self_service: true,
        self_service_roles: ['reader', 'writer'],
        self_service_max_access_token_ttl: 600,
      })
    ).statusCode,
    200,
  );
  t.equal(
    (await server.admin('POST', '/admin/clients', { client_id: 'carol-feed', name: 'Carol’s feed', owner: 'carol@example.com' }))
      .statusCode,
    201,
  );

  const browser = await launchBrowser(t);

  /** A browser of its own for one person, signed in through the provider's login page. */
  async function signedIn(t: Test, browser: Browser, username: string): Promise<{ page: Page; errors: string[] }> {
    const { page, errors } = await openPage(browser, t);
    await page.goto(`${origin}/console`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL(`${idp.issuer}/interaction/**`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('password');
    await page.getByRole('button', { name: 'Sign in at the IdP' }).click();
    await page.waitForURL(`${origin}/console/clients`);
    await page.locator('.who .badge').waitFor();
    return { page, errors };
  }

  await t.test('the sign-in page offers the provider, and the admin-client sign-in for break-glass', async (t) => {
    const { page } = await openPage(browser, t);
    await page.goto(`${origin}/console`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    await page.getByRole('heading', { name: 'Or with an admin client (break-glass)' }).waitFor();
    t.ok(await page.getByLabel('Client secret').isVisible(), 'the client sign-in is still there');
    t.same(await accessibilityViolations(page), [], 'no serious or critical accessibility violations');
    await screenshots(page, 'sign-in-sso');
  });

  await t.test('a provider that cannot be reached: the sign-in page says so and keeps the break-glass sign-in', async (t) => {
    const downPort = await freePort();
    const closed = await freePort();
    const down = loadConfig({
      ISSUER: `http://127.0.0.1:${downPort}`,
      OIDC_ISSUER: `http://127.0.0.1:${closed}`,
      OIDC_CLIENT_ID: 'portier',
      OIDC_CLIENT_SECRET: 'secret',
    });
    await startConsole(t, { port: downPort, config: { issuer: down.issuer, oidc: down.oidc, console: down.console } });
    const { page } = await openPage(browser, t);
    await page.goto(`${down.issuer}/console`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    t.match(await alert.innerText(), /The sign-in service of your organisation cannot be reached right now.*or use an admin client below/);
    t.equal(await page.getByRole('link', { name: /^Sign in with/ }).count(), 0, 'no link that cannot work');
    t.ok(await page.getByLabel('Client secret').isVisible(), 'the admin-client sign-in is there');
  });

  await t.test('an operator signs in on the provider’s page, lands on My clients, creates a client and sees it', async (t) => {
    const { page, errors } = await signedIn(t, browser, 'alice');
    await page.getByRole('heading', { name: 'My clients' }).waitFor();
    t.equal(
      await page
        .locator('.who')
        .innerText()
        .then((text) => text.replace(/\s+/g, ' ').trim()),
      'Alice Operator operator Sign out',
      'the header names the person and the role',
    );
    t.equal(await page.getByRole('link', { name: 'Signing keys' }).count(), 0, 'no signing keys for an operator');
    t.equal(await page.locator('table.clients').count(), 0, 'no clients yet: Carol’s is not shown');
    const stored = await page.evaluate<{ cookie: string; local: number }>('({ cookie: document.cookie, local: localStorage.length })');
    t.same(stored, { cookie: '', local: 0 }, 'the session cookie is out of the page’s reach (HttpOnly), nothing in storage');
    const [cookie] = (await page.context().cookies()).filter((candidate) => candidate.name === 'portier_session');
    t.match(cookie, { httpOnly: true, sameSite: 'Lax', path: '/', secure: false });

    await page.getByRole('link', { name: 'New client' }).click();
    await page.getByRole('heading', { name: 'New client' }).waitFor();
    t.match(await page.locator('form').innerText(), /Owner: alice@example\.com \(you\)/, 'the owner is theirs, not asked');
    t.equal(await page.getByLabel(/^Owner/).count(), 0, 'no owner field');
    const offered = await page.getByLabel('Service').locator('option').allInnerTexts();
    t.ok(
      offered.some((text) => text.includes('orders')),
      'the self-service service is offered',
    );
    t.notOk(
      offered.some((text) => /billing|portier-admin/.test(text)),
      'nothing an operator may not grant',
    );
    await page.getByLabel('Name', { exact: true }).fill('Alice’s shop');
    await page.getByLabel(/^Client ID/).fill('alice-shop');
    await page.getByLabel('Service').selectOption('orders');
    await page.getByLabel('orders:read').check();
    await page.getByRole('button', { name: 'Add grant' }).click();
    await page.getByRole('button', { name: 'Create client' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    t.match(await dialog.getByTestId('client-secret').innerText(), /^portier_cred_/, 'the secret, once');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.getByRole('button', { name: 'Yes, close' }).click();
    await page.getByRole('heading', { name: 'Alice’s shop' }).waitFor();
    t.match(await page.locator('.details').innerText(), /Created by\s+Alice Operator/, 'created by the person’s name, not an id');
    await page.getByRole('link', { name: 'My clients' }).click();
    await page.locator('table.clients').getByText('alice-shop').waitFor();
    await screenshots(page, 'my-clients');
    t.match((await server.admin('GET', '/admin/clients/alice-shop')).json(), {
      owner: 'alice@example.com',
      created_by_name: 'Alice Operator',
    });

    // Sign-out: one click ends the session here, then the provider's own sign-out page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${idp.issuer}/session/end**`);
    const api = await page.context().request.get(`${origin}/admin/clients`);
    t.equal(api.status(), 401, 'the session is over at once');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${origin}/console**`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    t.pass('back on the sign-in page');
    t.equal(await page.getByRole('status').filter({ hasText: 'You have signed out.' }).count(), 1, 'which says so');
    await page.reload();
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    t.equal(await page.getByText('You have signed out.').count(), 0, 'once');
    t.same(
      errors.filter((error) => !REFUSED_FETCH.test(error)),
      [],
      'nothing in the browser console',
    );
  });

  await t.test('another operator does not see it', async (t) => {
    const { page, errors } = await signedIn(t, browser, 'bob');
    await page.getByRole('heading', { name: 'My clients' }).waitFor();
    await page.getByText('No clients yet.').waitFor();
    t.pass('Bob’s list is empty');
    t.equal(await page.getByRole('link', { name: 'Sessions' }).count(), 0, 'no sessions screen for operators');
    for (const screen of ['keys', 'sessions']) {
      await page.goto(`${origin}/console/${screen}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      t.pass(`/console/${screen}: not found for an operator`);
    }
    await page.goto(`${origin}/console/clients/alice-shop`);
    await page.getByRole('alert').waitFor();
    t.match(await page.getByRole('alert').innerText(), /no client/i, 'Alice’s client, by its URL: not found');
    t.same(
      errors.filter((error) => !REFUSED_FETCH.test(error)),
      [],
    );
  });

  await t.test('an admin sees everything', async (t) => {
    const { page } = await signedIn(t, browser, 'ada');
    await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    const table = page.locator('table.clients');
    await table.getByText('alice-shop').waitFor();
    t.equal(await table.getByText('carol-feed').count(), 1, 'every owner’s clients');
    t.match(await page.locator('.who').innerText(), /Ada Admin\s+admin/);
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.locator('table.keys tbody tr').first().waitFor();
    t.equal(await page.getByRole('button', { name: 'Rotate signing key' }).count(), 1, 'and may rotate the key');
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'New client' }).click();
    t.equal(await page.getByLabel(/^Owner/).count(), 1, 'an admin names the owner');

    // The sessions screen: everyone signed in, and ending one signs that person out.
    const bob = await signedIn(t, browser, 'bob');
    await page.getByRole('link', { name: 'Sessions' }).click();
    const rows = page.locator('table.sessions tbody tr');
    await rows.filter({ hasText: 'Ada Admin' }).first().waitFor();
    const bobRows = rows.filter({ hasText: 'bob' });
    await bobRows.first().waitFor();
    t.same(await accessibilityViolations(page), [], 'sessions: no serious or critical accessibility violations');
    await screenshots(page, 'sessions');
    // Bob may have a session left from before: each one ends.
    for (let left = await bobRows.count(); left > 0; left -= 1) {
      await bobRows
        .first()
        .getByRole('button', { name: /^End session/ })
        .click();
      await eventually(
        () => bobRows.count(),
        (count) => count === left - 1,
        10_000,
      );
    }
    await page
      .getByRole('status')
      .filter({ hasText: /The session of .* has ended\./ })
      .waitFor();
    t.equal((await bob.page.context().request.get(`${origin}/admin/clients`)).status(), 401, 'that person is signed out');

    // An unknown console URL: "not found", not the clients list.
    await page.goto(`${origin}/console/no-such-screen`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    t.equal(await page.locator('table.clients').count(), 0, 'no list instead');
  });

  await t.test('an auditor reads everything but cannot change anything', async (t) => {
    const { page, errors } = await signedIn(t, browser, 'otto');
    await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    await page.locator('table.clients').getByText('alice-shop').waitFor();
    t.match(await page.locator('.who').innerText(), /Otto Auditor\s+auditor \(read only\)/);
    t.equal(await page.getByRole('link', { name: 'New client' }).count(), 0, 'no New client');
    t.equal(await page.getByRole('checkbox').count(), 0, 'no bulk selection');
    await page.getByRole('link', { name: 'Alice’s shop' }).click();
    await page.getByRole('heading', { name: 'Alice’s shop' }).waitFor();
    for (const name of ['Edit client', 'Disable client', 'Regenerate secret', 'Delete client']) {
      t.equal(await page.getByRole('button', { name }).count(), 0, `no ${name}`);
    }
    // What the console does not offer, the API refuses too (with the page's own Origin).
    const status = await page.evaluate<number>(
      "fetch('/admin/clients/alice-shop/disable', { method: 'POST', referrerPolicy: 'same-origin' }).then((r) => r.status)",
    );
    t.equal(status, 403, 'a change from the auditor’s page: 403');
    t.equal((await server.admin('GET', '/admin/clients/alice-shop')).json().enabled, true, 'nothing changed');
    t.same(
      errors.filter((error) => !REFUSED_FETCH.test(error)),
      [],
    );
  });

  await t.test(
    'an operator edits their client: what an admin set is read-only, the roles and lifetime orders offers are theirs',
    async (t) => {
      const made = await server.admin('POST', '/admin/clients', {
        client_id: 'alice-billing',
        name: 'Alice’s billing export',
        owner: 'alice@example.com',
        grants: [{ service: 'orders', scopes: ['orders:read'] }],
        roles: ['billing-admin'],
        claims: { tenant: 'acme' },
        token_quota: { per_hour: 50 },
      });
      t.equal(made.statusCode, 201, 'an admin made Alice a client with a role, a claim and a quota');
      const { page, errors } = await signedIn(t, browser, 'alice');
      await page.goto(`${origin}/console/clients/alice-billing`);
      await page.getByRole('heading', { name: 'Alice’s billing export' }).waitFor();
      await page.getByRole('button', { name: 'Edit client' }).click();

      const claims = page.getByLabel('Custom claims (set by an admin)');
      t.equal(await claims.getAttribute('readonly'), '', 'the claims: read-only');
      t.match(await claims.inputValue(), /"tenant": "acme"/, 'and shown');
      t.match(
        await page.locator('form').innerText(),
        /Token quota: 50 per hour \(enforced\) \(set by an admin\)/,
        'the quota: said, not editable',
      );
      t.equal(await page.getByLabel(/^Its own quota/).count(), 0, 'no quota controls');
      const roles = page.getByLabel(/^Roles/);
      t.match(await page.locator('label[for="edit-roles"]').innerText(), /let you choose reader, writer/, 'the roles orders offers');
      t.equal(await roles.getAttribute('readonly'), null, 'so the roles can be changed');
      const ttl = page.getByLabel(/^Lifetime in seconds/);
      t.match(await page.locator('label[for="edit-ttl"]').innerText(), /60–600/, 'and a lifetime up to orders’ maximum');

      // Beyond the offer: the server's 403, next to the field.
      await roles.fill('billing-admin superuser');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.locator('#edit-error-roles').filter({ hasText: 'not superuser' }).waitFor();
      t.pass('a role orders does not offer: refused, next to the field');
      await roles.fill('billing-admin reader');
      await ttl.fill('600');
      await page.getByLabel('Name', { exact: true }).fill('Alice’s billing export (nightly)');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      t.match(
        (await server.admin('GET', '/admin/clients/alice-billing')).json(),
        {
          name: 'Alice’s billing export (nightly)',
          roles: ['billing-admin', 'reader'],
          access_token_ttl: 600,
          claims: { tenant: 'acme' },
          token_quota: { per_hour: 50, per_day: null, mode: 'enforce' },
        },
        'the role and lifetime she chose; what the admin set, untouched',
      );

      // A service that offers nothing: the roles and lifetime are read-only again.
      await page.getByRole('button', { name: 'Edit client' }).click();
      await page.getByRole('button', { name: 'Remove grant of orders' }).click();
      await page.locator('label[for="edit-roles"]').filter({ hasText: 'Roles (set by an admin)' }).waitFor();
      t.equal(await roles.getAttribute('readonly'), '', 'no grant, no roles to choose');
      t.equal(await ttl.getAttribute('readonly'), '', 'nor a lifetime');
      t.same(await accessibilityViolations(page), [], 'the operator’s edit form: no serious or critical accessibility violations');
      await page.getByRole('button', { name: 'Cancel' }).click();
      const refusals = errors.filter((error) => !REFUSED_FETCH.test(error));
      t.same(refusals, [], 'nothing else in the browser console');
    },
  );

  await t.test('an admin offers roles and a lifetime to operators on the service form', async (t) => {
    const { page, errors } = await signedIn(t, browser, 'ada');
    await page.goto(`${origin}/console/services/orders`);
    await page.getByRole('heading', { name: 'Orders' }).waitFor();
    const offered = page.getByLabel(/^Roles operators may give/);
    t.equal(await offered.inputValue(), 'reader writer');
    await offered.fill('reader');
    const max = page.getByLabel(/^Longest token lifetime operators may choose/);
    await max.fill('ten minutes');
    await page.getByRole('button', { name: 'Save service' }).click();
    await page.locator('#service-error-self_service_max_access_token_ttl').filter({ hasText: 'whole number' }).waitFor();
    await max.fill('');
    await page.getByRole('button', { name: 'Save service' }).click();
    await page.getByText('Saved.').waitFor();
    t.match((await server.admin('GET', '/admin/services/orders')).json(), {
      self_service_roles: ['reader'],
      self_service_max_access_token_ttl: null,
    });
    t.same(await accessibilityViolations(page), [], 'the service form: no serious or critical accessibility violations');
    t.same(errors, []);
  });
});
