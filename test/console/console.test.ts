import t from 'tap';
import { ADMIN_ID, ADMIN_SECRET, addClient, addService, basicAuth, eventually, postToken, testConfig } from '../helpers.js';
import { browserMissing, checkScreen, collectErrors, openBrowser, openPage, signIn, startConsole } from './browser.js';

/**
 * The web console in Debian's chromium against a real listening Portier: sign-in, where
 * the token is (not) kept, the clients list and its URL, create → secret once, the
 * detail screen's actions, a read-only admin, the security headers, accessibility (axe)
 * and narrow screens. One browser and one database for the file; the screens are visited
 * in order on one page, as an admin would.
 */

const FAILED = /Sign-in failed\. Check the client ID and secret/;
/** What Chromium logs for a fetch answered 4xx: expected on the sign-in screen, nowhere else. */
const FAILED_FETCH = /^Failed to load resource: the server responded with a status of (400|401|429)/;

t.test('the console in a browser', { skip: browserMissing() }, async (t) => {
  const protection = { ...testConfig().protection, failuresPerClientAndAddress: 2 };
  const { server, origin } = await startConsole(t, { config: { protection } });
  await addService(server.database, {
    id: 'orders',
    name: 'Orders',
    audience: 'https://orders.example',
    scopes: ['orders:read', 'orders:write'],
  });
  for (const [clientId, owner] of [
    ['alice-billing', 'alice'],
    ['alice-reports', 'alice'],
    ['bob-sync', 'bob'],
  ] as const) {
    await addClient(server, {
      client_id: clientId,
      name: `Client ${clientId}`,
      owner,
      grants: [{ service: 'orders', scopes: ['orders:read'] }],
    });
  }
  const reader = await addClient(server, {
    client_id: 'reader',
    name: 'Read-only admin',
    owner: 'ops',
    grants: [{ service: 'portier-admin', scopes: ['admin:read'] }],
  });

  const { browser, context, page, errors } = await openBrowser(t);
  const token = (clientId: string, secret: string) =>
    postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, secret) });

  await t.test('serves the app with its security headers, index.html for every screen URL', async (t) => {
    const response = await page.goto(`${origin}/console/clients`);
    t.equal(response?.status(), 200);
    const headers = response?.headers() ?? {};
    t.match(headers['content-security-policy'], /default-src 'self'/);
    t.match(headers['content-security-policy'], /style-src 'self'(;|$)/);
    t.match(headers['content-security-policy'], /script-src 'self'(;|$)/);
    t.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    t.equal(headers['x-content-type-options'], 'nosniff');
    t.equal(headers['referrer-policy'], 'no-referrer');
    t.equal(headers['cache-control'], 'no-cache');
    const html = (await response?.text()) ?? '';
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    t.notMatch(html, /<style|style=/, 'no inline style');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    const asset = await context.request.get(`${origin}${script}`);
    t.equal(asset.status(), 200);
    t.equal(asset.headers()['cache-control'], 'public, max-age=31536000, immutable');
    t.equal(asset.headers()['x-content-type-options'], 'nosniff');
    t.equal((await context.request.get(`${origin}/console/assets/missing.js`)).status(), 404, 'a missing asset is a 404, not the app');
    const deep = await context.request.get(`${origin}/console/clients/some-client?tab=history`);
    t.equal(await deep.text(), html, 'a screen URL loads index.html');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await checkScreen(t, page, 'sign-in');
  });

  await t.test('sign-in: the same message for every failure, when to retry after a 429', async (t) => {
    const other = await context.newPage();
    const otherErrors = collectErrors(other);
    await other.goto(`${origin}/console`);
    await signIn(other, ADMIN_ID, 'not-the-secret');
    await other.getByRole('alert').filter({ hasText: FAILED }).waitFor();
    t.equal(await other.getByLabel('Client secret').inputValue(), '', 'the secret field is emptied');
    await signIn(other, 'nobody', 'whatever-secret');
    await other.getByRole('alert').filter({ hasText: FAILED }).waitFor();
    t.pass('an unknown client and a wrong secret read the same');
    await signIn(other, 'nobody', 'whatever-secret');
    await other.getByRole('alert').filter({ hasText: FAILED }).waitFor();
    await signIn(other, 'nobody', 'whatever-secret');
    const limited = other.getByRole('alert').filter({ hasText: /Too many failed sign-ins\. Try again in \d+ seconds/ });
    await limited.waitFor();
    t.pass('a 429 says when to retry');
    t.same(
      otherErrors.filter((error) => !FAILED_FETCH.test(error)),
      [],
      'nothing in the browser console but the refused requests',
    );
    await other.close();
  });

  await t.test('signs in (with the keyboard only); the token is kept in memory only', async (t) => {
    await page.getByLabel('Client ID').focus();
    await page.keyboard.type(ADMIN_ID);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN_SECRET);
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Sign in', 'Tab reaches the button');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    const stored = await page.evaluate<{ local: number; session: number; cookie: string; html: string }>(
      '({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, html: document.documentElement.outerHTML })',
    );
    t.equal(stored.local, 0, 'nothing in localStorage');
    t.equal(stored.session, 0, 'nothing in sessionStorage');
    t.equal(stored.cookie, '', 'no cookie');
    t.same(await context.cookies(), [], 'no cookie in the browser either');
    t.notMatch(page.url(), /token|eyJ/, 'no token in the URL');
    t.notOk(stored.html.includes(ADMIN_SECRET), 'the secret is not on the page');
  });

  await t.test('clients list: filters in the URL, the back button', async (t) => {
    const rows = page.locator('table.clients tbody tr');
    await rows.first().waitFor();
    t.equal(await rows.count(), 5, 'every client (three, the read-only admin and the bootstrap admin)');
    t.equal(await rows.filter({ hasText: 'alice-billing' }).locator('td[data-label="Last used"]').innerText(), 'not yet used');
    await checkScreen(t, page, 'clients', true);
    await page.getByLabel('Owner').fill('alice');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/\/console\/clients\?owner=alice$/);
    await page.locator('table.clients tbody tr').nth(1).waitFor();
    await t.resolves(rows.filter({ hasText: 'bob-sync' }).waitFor({ state: 'detached' }));
    t.equal(await rows.count(), 2, 'only alice’s clients');
    await page.getByLabel('Status').selectOption('disabled');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=disabled/);
    await page.getByText('No clients match these filters.').waitFor();
    t.pass('the empty state');
    await page.goBack();
    await page.waitForURL(/\/console\/clients\?owner=alice$/);
    await rows.nth(1).waitFor();
    t.equal(await rows.count(), 2, 'back: the previous filters and their results');
    t.equal(await page.getByLabel('Owner').inputValue(), 'alice', 'the filter form shows the URL’s filters');
    await page.goBack();
    await page.waitForURL(/\/console\/clients$/);
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.waitForURL(/\/console\/clients$/);
    await rows.nth(4).waitFor();
    t.equal(await rows.count(), 5);

    // Pages follow the API's cursor (a page of 2, through the URL as a link would).
    await page.evaluate("history.pushState(null, '', '/console/clients?limit=2'); dispatchEvent(new PopStateEvent('popstate'))");
    // The list empties while a page loads: wait for the page, not for the next paint.
    const ids = () => rows.locator('td[data-label="Client ID"]').allInnerTexts();
    const first = await eventually(ids, (shown) => shown.length === 2, 5000);
    t.equal(first.length, 2);
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/limit=2&cursor=/);
    await page.getByRole('link', { name: 'First page' }).waitFor();
    const second = await eventually(ids, (shown) => shown.length === 2 && !shown.includes(first[0] ?? ''), 5000);
    t.equal(second.length, 2);
    t.same(
      second.filter((id) => first.includes(id)),
      [],
      'the next page has other clients',
    );
    await page.goBack();
    await page.waitForURL(/\?limit=2$/);
    await page.getByRole('link', { name: 'First page' }).waitFor({ state: 'detached' });
    t.same(await eventually(ids, (shown) => shown.join() === first.join(), 5000), first, 'back: the first page');

    // The error state, and Retry.
    await page.route('**/admin/clients?*', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'about:blank', title: 'Unavailable', status: 503, detail: 'database not reachable' }),
      }),
    );
    const before = errors.length;
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'database not reachable' }).waitFor();
    t.same(errors.splice(before), ['Failed to load resource: the server responded with a status of 503 (Service Unavailable)']);
    await page.unroute('**/admin/clients?*');
    await page.getByRole('button', { name: 'Retry' }).click();
    await rows.nth(4).waitFor();
    t.pass('an error says what went wrong, and Retry loads the list');
  });

  let secret = '';
  await t.test('create a client: errors next to their field, then the secret once, which works', async (t) => {
    await page.getByRole('link', { name: 'New client' }).click();
    await page.getByRole('heading', { name: 'New client' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Web shop');
    await page.getByLabel(/^Client ID/).fill('web-shop');
    await page.getByLabel('Owner').fill('carol');
    await page.getByLabel('Service').selectOption('orders');
    await page.getByLabel('orders:read').check();
    await page.getByRole('button', { name: 'Add grant' }).click();
    await page.getByLabel(/^IP ranges/).fill('not-a-network');
    const before = errors.length;
    await page.getByRole('button', { name: 'Create client' }).click();
    const ipError = page.locator('#error-ip_ranges');
    await ipError.waitFor();
    // Chromium itself logs every fetch answered 4xx; this one is the refusal the test asked for.
    t.same(errors.splice(before), ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    t.equal(await page.getByLabel(/^IP ranges/).getAttribute('aria-describedby'), 'error-ip_ranges', 'the error is tied to its field');
    await checkScreen(t, page, 'create-client');
    await page.getByLabel(/^IP ranges/).fill('127.0.0.0/8\n::1/128');
    await page.getByRole('button', { name: 'Create client' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    secret = await dialog.getByTestId('client-secret').innerText();
    t.match(await dialog.innerText(), /will not be shown again/);
    t.match(await dialog.getByTestId('curl').innerText(), `-u 'web-shop:${secret}' ${origin}/oauth/token`);
    const answer = await token('web-shop', secret);
    t.equal(answer.statusCode, 200, 'the secret shown gets a token');
    await checkScreen(t, page, 'secret-dialog');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.getByRole('button', { name: 'Keep it open' }).click();
    t.ok(await dialog.isVisible(), 'closing asks first');
    await page.keyboard.press('Escape');
    await dialog.getByRole('button', { name: 'Yes, close' }).click();
    await page.waitForURL(/\/console\/clients\/web-shop$/);
    await page.getByRole('heading', { name: 'Web shop' }).waitFor();
  });

  await t.test('client detail: disable and enable, a new secret with a grace period, the history', async (t) => {
    t.match(await page.locator('.details').innerText(), /carol/);
    await checkScreen(t, page, 'client-detail', true);
    await page.getByRole('button', { name: 'Edit client' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Web shop (EU)');
    await page.getByLabel('Description').fill('Orders from the EU shop');
    await page.getByLabel(/^Expires/).fill('2031-01-02T03:04');
    await page.getByLabel(/^IP ranges/).fill('127.0.0.0/8\n::1/128\n300.1.2.3/8');
    const before = errors.length;
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-error-ip_ranges').waitFor();
    t.same(errors.splice(before), ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await checkScreen(t, page, 'edit-client');
    await page.getByLabel(/^IP ranges/).fill('127.0.0.0/8\n::1/128');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Web shop (EU)' }).waitFor();
    const saved = (await server.admin('GET', '/admin/clients/web-shop')).json();
    t.equal(saved.description, 'Orders from the EU shop');
    t.ok(saved.expires_at.startsWith('2031-01-0'), 'the expiry, from local time');
    t.same(saved.grants, [{ service: 'orders', scopes: ['orders:read'] }], 'the grants unchanged');
    await page.getByRole('button', { name: 'Disable client' }).click();
    await page.getByText('The client is disabled').waitFor();
    t.equal(await page.locator('.details .status').innerText(), 'disabled');
    t.not((await token('web-shop', secret)).statusCode, 200, 'a disabled client gets no token');
    await page.getByRole('button', { name: 'Enable client' }).click();
    await page.getByText('The client is enabled.').waitFor();
    t.equal(await page.locator('.details .status').innerText(), 'active');
    t.equal((await token('web-shop', secret)).statusCode, 200);
    const regenerations = async () =>
      ((await server.admin('GET', '/admin/audit-events?client_id=web-shop&action=client.secret_regenerated')).json().items as unknown[])
        .length;
    const regeneratedBefore = await regenerations();
    t.equal(await page.getByLabel('Old secret keeps working for').inputValue(), '3600', 'an hour of grace unless chosen otherwise');
    // Regenerating asks first, saying what happens to the old secret.
    await page.getByRole('button', { name: 'Regenerate secret' }).click();
    await page.getByText('The old secret keeps working for 1 hour, then stops.').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    t.equal(await page.getByRole('dialog').count(), 0, 'cancelled: no secret shown');
    t.equal(await regenerations(), regeneratedBefore, 'and none generated');
    await page.getByRole('button', { name: 'Regenerate secret' }).click();
    await page.getByRole('button', { name: 'Yes, regenerate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const fresh = await dialog.getByTestId('client-secret').innerText();
    t.not(fresh, secret);
    t.equal((await token('web-shop', fresh)).statusCode, 200, 'the new secret works');
    t.equal((await token('web-shop', secret)).statusCode, 200, 'the old one too, for the grace period');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.getByRole('button', { name: 'Yes, close' }).click();
    const history = page.locator('table.audit');
    await history
      .getByText('client.secret_regenerated')
      .or(history.getByText(/secret/).first())
      .first()
      .waitFor();
    t.match(await history.innerText(), /client\.created/, 'the history lists the client’s events');
  });

  await t.test('delete after typing the client ID', async (t) => {
    const remove = page.getByRole('button', { name: 'Delete client' });
    t.ok(await remove.isDisabled(), 'disabled until the client ID is typed');
    await page.getByLabel('Client ID to delete').fill('web-sho');
    t.ok(await remove.isDisabled());
    await page.getByLabel('Client ID to delete').fill('web-shop');
    await remove.click();
    await page.waitForURL(/\/console\/clients$/);
    await page.locator('table.clients tbody tr').nth(4).waitFor();
    t.equal(await page.locator('table.clients').getByText('web-shop').count(), 0);
    t.equal((await server.admin('GET', '/admin/clients/web-shop')).statusCode, 404, 'deleted');
  });

  await t.test('bulk disable from the list, with a result per row', async (t) => {
    await page.getByLabel('Select alice-billing').check();
    await page.getByLabel('Select bob-sync').check();
    await page.getByRole('button', { name: 'Disable selected' }).click();
    const row = page.locator('table.clients tbody tr').filter({ hasText: 'bob-sync' });
    await row.locator('td[data-label="Bulk result"]').filter({ hasText: 'done (disabled)' }).waitFor();
    // The list reloads after the bulk answer: wait for the row to show it.
    await row
      .locator('td[data-label="Status"]')
      .filter({ hasText: /^disabled$/ })
      .waitFor({ timeout: 5000 });
    t.equal(await row.locator('td[data-label="Status"]').innerText(), 'disabled');
    t.equal((await server.admin('GET', '/admin/clients/alice-billing')).json().status, 'disabled');
  });

  await t.test('services: create, field errors, a 409 names the clients that use it, delete', async (t) => {
    await page.getByRole('link', { name: 'Services', exact: true }).click();
    await page.waitForURL(/\/console\/services$/);
    const table = page.locator('table.services');
    await table.getByText('portier-admin').first().waitFor();
    await checkScreen(t, page, 'services');
    await page.getByLabel(/^Service ID/).fill('Not An Id!');
    await page.getByLabel('Name', { exact: true }).fill('Billing');
    await page.getByLabel(/^Audience/).fill('https://billing.example');
    await page.getByLabel(/^Scopes/).fill('invoices:read invoices:write');
    let before = errors.length;
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.locator('#service-error-id').waitFor();
    t.same(errors.splice(before), ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.getByLabel(/^Service ID/).fill('billing');
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.getByText('Service billing created.').waitFor();
    await table.getByText('https://billing.example').waitFor();
    t.same((await server.admin('GET', '/admin/services/billing')).json().scopes, ['invoices:read', 'invoices:write']);

    await table.getByRole('link', { name: 'Orders' }).click();
    await page.waitForURL(/\/console\/services\/orders$/);
    await page.getByRole('button', { name: 'Delete service' }).click();
    before = errors.length;
    await page.getByRole('button', { name: 'Yes, delete service' }).click();
    const refused = page.getByRole('alert').filter({ hasText: /still granted to clients: .*alice-billing/ });
    await refused.waitFor();
    const said = await refused.innerText();
    t.match(said, /bob-sync/, 'the 409 lists the clients that still use the service');
    t.equal(said.split('alice-billing').length - 1, 1, 'each client once');
    t.same(errors.splice(before), ['Failed to load resource: the server responded with a status of 409 (Conflict)']);
    await page.getByLabel(/^Scopes/).fill('orders:read orders:write orders:admin');
    await page.getByRole('button', { name: 'Save service' }).click();
    await page.getByText('Saved.').waitFor();
    t.same((await server.admin('GET', '/admin/services/orders')).json().scopes, ['orders:read', 'orders:write', 'orders:admin']);
    await checkScreen(t, page, 'service-detail');

    await page.getByRole('link', { name: '← Services' }).click();
    await table.getByRole('link', { name: 'Billing' }).click();
    await page.getByRole('button', { name: 'Delete service' }).click();
    await page.getByRole('button', { name: 'Yes, delete service' }).click();
    await page.waitForURL(/\/console\/services$/);
    await table.getByText('portier-admin').first().waitFor();
    t.equal(await table.getByText('billing').count(), 0, 'deleted');
  });

  await t.test('what a configuration apply made is marked managed, in the lists and on the detail screens', async (t) => {
    const applied = await server.admin('POST', '/admin/config/apply', {
      services: [{ id: 'inventory', name: 'Inventory', audience: 'https://inventory.example', scopes: ['stock:read'] }],
      clients: [{ client_id: 'stock-sync', name: 'Stock sync', owner: 'ops', grants: [{ service: 'inventory', scopes: ['stock:read'] }] }],
    });
    t.equal(applied.statusCode, 200, applied.body);
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    const rows = page.locator('table.clients tbody tr');
    await rows.filter({ hasText: 'stock-sync' }).waitFor();
    t.match(await rows.filter({ hasText: 'stock-sync' }).locator('td[data-label="Name"]').innerText(), /\(managed by configuration\)/);
    t.notMatch(
      await rows.filter({ hasText: 'bob-sync' }).locator('td[data-label="Name"]').innerText(),
      /managed/,
      'not a client made otherwise',
    );
    await page.getByRole('link', { name: 'Stock sync' }).click();
    await page.getByRole('heading', { name: 'Stock sync' }).waitFor();
    t.match(await page.locator('.details').innerText(), /Managed\s+Managed by configuration/);
    await page.getByRole('link', { name: 'Services', exact: true }).click();
    const services = page.locator('table.services tbody tr');
    await services.filter({ hasText: 'inventory' }).waitFor();
    t.match(await services.filter({ hasText: 'inventory' }).innerText(), /\(managed by configuration\)/);
    t.notMatch(await services.filter({ hasText: 'portier-admin' }).innerText(), /managed/);
    await services.getByRole('link', { name: 'Inventory' }).click();
    await page.getByText(/^Managed by configuration: created by a configuration apply/).waitFor();
    t.pass('the service screen says so');
  });

  await t.test('signing keys: rotate after a confirmation', async (t) => {
    await page.getByRole('link', { name: 'Signing keys' }).click();
    const rows = page.locator('table.keys tbody tr');
    await rows.first().waitFor();
    const count = await rows.count();
    await checkScreen(t, page, 'keys');
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    t.equal((await server.admin('GET', '/admin/keys')).json().items.length, count, 'cancel rotates nothing');
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByRole('button', { name: 'Yes, rotate' }).click();
    await page.getByText('A new signing key is published now and starts signing at').waitFor();
    t.equal(await rows.count(), count + 1, 'one key more: the next key, published before it signs');
  });

  await t.test('signing keys: when the next key takes over, and bringing it forward', async (t) => {
    type Key = { kid: string; status: string; activates_at: string; earliest_activation: string | null };
    const keys = async () => (await server.admin('GET', '/admin/keys')).json().items as Key[];
    const next = (await keys()).find((key) => key.status === 'next');
    if (next?.earliest_activation == null) throw new Error('no next key');
    const exact = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    const panel = page.getByRole('region', { name: 'Next key' });
    await panel.getByText('takes over signing at').waitFor();
    // Times in the person's zone, the exact UTC time on hover (the title).
    const shown = (iso: string) => panel.locator(`time[datetime="${iso}"][title="${exact(iso)}"]`);
    t.match(await panel.innerText(), next.kid, 'names the next key');
    t.equal(await shown(next.activates_at).count(), 1, 'and when it takes over');
    t.equal(await shown(next.earliest_activation).count(), 1, 'and the earliest it can be brought forward to');
    await checkScreen(t, page, 'keys-next');

    await panel.getByRole('button', { name: 'Bring forward' }).click();
    await page.getByText(`Key ${next.kid} now takes over signing at `).waitFor();
    t.equal((await keys()).find((key) => key.kid === next.kid)?.activates_at, next.earliest_activation, 'as soon as allowed');
    // The panel's first line says when the key takes over: now the earliest time.
    await panel.locator('p').first().locator(`time[datetime="${next.earliest_activation}"]`).waitFor();
    t.pass('the panel shows the new time');

    // Once its time has come, the key signs, and the screen shows no next key any more.
    server.clock.advance(10 * 60_000);
    t.equal((await keys()).find((key) => key.kid === next.kid)?.status, 'active', 'it took over on its own');
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.locator('table.keys tbody tr').first().waitFor();
    t.equal(await page.getByRole('region', { name: 'Next key' }).count(), 0, 'no next key');
  });

  await t.test('audit trail: filters in the URL', async (t) => {
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const rows = page.locator('table.audit tbody tr');
    await rows.first().waitFor();
    await checkScreen(t, page, 'audit');
    // Details as readable fields: a change as before → after (the client edited above), no raw JSON.
    const change = page
      .locator('table.audit .audit-details div')
      .filter({ has: page.locator('ins') })
      .first();
    await change.waitFor();
    t.match(await change.innerText(), /^\w+\s+\S.*→/s, 'field: before → after');
    t.equal(await page.locator('table.audit .details-json').count(), 0, 'no JSON');
    t.ok((await page.locator('#audit-action option').count()) > 10, 'the actions to choose from');
    await page.getByLabel('Client ID', { exact: true }).fill('alice-billing');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/\/console\/audit\?client_id=alice-billing$/);
    await page.locator('table.audit').getByText('client.disabled').or(page.getByText('No events match')).first().waitFor();
    const clients = await page.locator('table.audit td[data-label="Client"]').allInnerTexts();
    t.ok(clients.length > 0 && clients.every((text) => text === 'alice-billing'), 'only alice-billing’s events');
    await page.getByLabel('Action').selectOption('client.deleted');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No events match these filters.').waitFor();
    await page.goBack();
    await page.waitForURL(/\/console\/audit\?client_id=alice-billing$/);
    await rows.first().waitFor();
    t.equal(await page.getByLabel('Action').inputValue(), '', 'back: the previous filters');
  });

  await t.test('no errors in the browser console', async (t) => {
    t.same(errors, []);
  });

  await t.test('a read-only admin sees no write controls; the session ends when the token expires', async (t) => {
    const { page: view, errors: viewErrors } = await openPage(browser, t);
    await view.clock.install();
    await view.goto(`${origin}/console/clients`);
    await signIn(view, 'reader', reader.clientSecret);
    await view.getByRole('heading', { name: 'Clients' }).waitFor();
    await view.locator('table.clients tbody tr').first().waitFor();
    t.match(await view.locator('.badge').innerText(), 'read only');
    t.equal(await view.getByRole('link', { name: 'New client' }).count(), 0, 'no New client');
    t.equal(await view.getByRole('checkbox').count(), 0, 'no selection for bulk actions');
    await view.getByRole('link', { name: 'Client bob-sync' }).click();
    await view.getByRole('heading', { name: 'Client bob-sync' }).waitFor();
    for (const name of ['Disable client', 'Enable client', 'Regenerate secret', 'Delete client']) {
      t.equal(await view.getByRole('button', { name }).count(), 0, `no ${name}`);
    }
    t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202, 'a next key, published');
    await view.getByRole('link', { name: 'Signing keys' }).click();
    await view.locator('table.keys tbody tr').first().waitFor();
    t.equal(await view.getByRole('button', { name: 'Rotate signing key' }).count(), 0, 'no key rotation');
    await view.getByRole('region', { name: 'Next key' }).getByText('takes over signing at').waitFor();
    t.equal(await view.getByRole('button', { name: 'Bring forward' }).count(), 0, 'when the next key takes over, but no bringing forward');
    await view.getByRole('link', { name: 'Services', exact: true }).click();
    await view.locator('table.services tbody tr').first().waitFor();
    t.equal(await view.getByRole('button', { name: 'Create service' }).count(), 0, 'no new service');
    await view.getByRole('link', { name: 'Orders' }).click();
    await view.getByRole('heading', { name: 'Orders' }).waitFor();
    t.equal(
      await view
        .getByRole('button')
        .filter({ hasText: /Save|Delete/ })
        .count(),
      0,
      'no service edits',
    );
    await view.clock.fastForward('02:00:00');
    await view.getByText('Your session has expired. Sign in again.').waitFor();
    t.pass('signed out with a message when the token expired');
    t.same(
      viewErrors.filter((error) => !FAILED_FETCH.test(error)),
      [],
      'nothing in the browser console but the refused request for admin:write',
    );
  });
});
