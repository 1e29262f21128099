import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { addClient, addService, basicAuth, postToken } from '../helpers.js';
import { accessibilityViolations, browserMissing, horizontalOverflow, openBrowser, screenshots, signIn, startConsole } from './browser.js';

/**
 * The token policy in the console, in Debian's chromium against a real listening Portier:
 * the claims editor of a client and of a service (JSON checked before it is sent, the
 * server's refusals next to the field), the lifetime and the quota, and the client's usage
 * chart, drawn by the console as an SVG.
 */

const BAD_REQUEST = 'Failed to load resource: the server responded with a status of 400 (Bad Request)';

t.test('the token policy in a browser', { skip: browserMissing() }, async (t) => {
  const { server, origin } = await startConsole(t);
  await addService(server.database, { id: 'orders', name: 'Orders', audience: 'https://orders.example', scopes: ['orders:read'] });
  const client = await addClient(server, {
    client_id: 'acme-sync',
    name: 'Acme sync',
    owner: 'alice',
    grants: [{ service: 'orders', scopes: ['orders:read'] }],
  });
  const token = (secret = client.clientSecret) =>
    postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, secret) });

  const { page, errors } = await openBrowser(t);
  await page.goto(`${origin}/console/clients/acme-sync`);
  await signIn(page);
  await page.getByRole('heading', { name: 'Acme sync' }).waitFor();

  await t.test('the claims editor: JSON checked first, then what the server refuses, then saved and in tokens', async (t) => {
    await page.getByRole('button', { name: 'Edit client' }).click();
    const claims = page.getByLabel(/^Custom claims/);
    const requests: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PATCH') requests.push(request.url());
    });
    await claims.fill('{"tenant": acme}');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const claimsError = page.locator('#edit-error-claims');
    await claimsError.waitFor();
    t.match(await claimsError.innerText(), /not valid JSON/);
    t.equal(await claims.getAttribute('aria-describedby'), 'edit-error-claims', 'the error is tied to the field');
    t.same(requests, [], 'nothing sent');
    await claims.fill('["tenant"]');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await claimsError.filter({ hasText: 'must be a JSON object' }).waitFor();
    t.same(requests, [], 'nothing sent');

    await claims.fill('{"tenant": "acme", "sub": "someone-else"}');
    const before = errors.length;
    await page.getByRole('button', { name: 'Save changes' }).click();
    await claimsError.filter({ hasText: '"sub" is reserved' }).waitFor();
    t.same(errors.splice(before), [BAD_REQUEST], "the server's refusal, next to the field");
    t.equal(requests.length, 1);

    await page.getByLabel(/^Lifetime in seconds/).fill('ten minutes');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-error-access_token_ttl').filter({ hasText: 'whole number' }).waitFor();
    await page.getByLabel(/^Lifetime in seconds/).fill('30');
    await claims.fill('{"tenant": "acme", "plan": {"tier": "gold"}}');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-error-access_token_ttl').filter({ hasText: /60/ }).waitFor();
    t.same(errors.splice(before), [BAD_REQUEST], 'out of range: the server says so');
    await page.getByLabel(/^Lifetime in seconds/).fill('600');
    await page.getByLabel(/^Its own quota/).check();
    await page.getByLabel(/^Tokens per UTC hour/).fill('100');
    await page.getByLabel('Beyond the quota').selectOption('log');
    await accessibilityCheck(t, 'the edit form with the token policy');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

    const saved = (await server.admin('GET', '/admin/clients/acme-sync')).json();
    t.same(saved.claims, { tenant: 'acme', plan: { tier: 'gold' } });
    t.equal(saved.access_token_ttl, 600);
    t.same(saved.token_quota, { per_hour: 100, per_day: null, mode: 'log' });
    const details = await page.locator('.details').innerText();
    t.match(details, /"tier": "gold"/, 'the summary shows the claims');
    t.match(details, /600 s/);
    t.match(details, /100 per hour \(logged only\)/);
    const issued = await token();
    t.equal(issued.json().expires_in, 600);
    t.match(decodeJwt(issued.json().access_token), { tenant: 'acme', plan: { tier: 'gold' } }, 'tokens carry them');
  });

  await t.test('the usage chart: an SVG of tokens and refusals, per hour and per day', async (t) => {
    await token();
    await token('not-the-secret');
    await server.app.portier.usage.flush();
    // The page loads the usage again when it is shown again (a reload would end the session: the token is in memory only).
    await page.getByRole('link', { name: '← Clients' }).click();
    await page.locator('table.clients').getByRole('link', { name: 'Acme sync' }).click();
    const chart = page.locator('section.usage svg[role="img"]');
    await chart.waitFor();
    const title = page.locator('#usage-title');
    await title.filter({ hasText: /^2 tokens/ }).waitFor({ state: 'attached' });
    t.equal(await title.textContent(), '2 tokens issued and 1 request refused in the last 48 hours; at most 3 in one hour.');
    t.equal(await page.locator('section.usage rect.usage-tokens').count(), 1, 'one bar of tokens: this hour');
    t.equal(await page.locator('section.usage rect.usage-refusals').count(), 1);
    t.equal(await chart.getAttribute('aria-labelledby'), 'usage-title');
    t.same(await page.locator('section.usage .y-axis span').allInnerTexts(), ['3', '0'], 'a y-axis: the busiest hour and 0');
    // The same data as a table, for those who do not see the chart.
    await page.getByText('The same as a table').click();
    const rows = page.locator('section.usage details table tbody tr');
    t.ok((await rows.count()) >= 48, 'a row an hour');
    t.same(await rows.last().locator('td').allInnerTexts(), ['2', '1'], 'this hour: 2 tokens, 1 refused');
    await accessibilityCheck(t, 'the client page with its usage chart');
    await page.setViewportSize({ width: 390, height: 844 });
    t.equal(await horizontalOverflow(page), 0, 'no horizontal scrolling at 390 px');
    await page.setViewportSize({ width: 1280, height: 800 });
    await screenshots(page, 'client-usage');
    await page.getByRole('button', { name: 'Per day' }).click();
    await page.locator('#usage-title').filter({ hasText: 'in the last 90 days' }).waitFor({ state: 'attached' });
    t.equal(await page.getByRole('button', { name: 'Per day' }).getAttribute('aria-pressed'), 'true');
    t.equal(await page.locator('section.usage rect.usage-tokens').count(), 1, 'one bar of tokens: today');
  });

  await t.test("a service's claims and lifetime", async (t) => {
    await page.getByRole('link', { name: 'Services', exact: true }).click();
    await page.locator('table.services').getByRole('link', { name: 'Orders' }).click();
    await page.getByRole('heading', { name: 'Orders' }).waitFor();
    const claims = page.getByLabel(/^Custom claims/);
    await claims.fill('{"iss": "https://evil.example"}');
    const before = errors.length;
    await page.getByRole('button', { name: 'Save service' }).click();
    await page.locator('#service-error-claims').filter({ hasText: '"iss" is reserved' }).waitFor();
    t.same(errors.splice(before), [BAD_REQUEST]);
    await claims.fill('{"api_tier": "gold", "tenant": "orders"}');
    await page.getByLabel(/^Lifetime in seconds/).fill('300');
    await page.getByRole('button', { name: 'Save service' }).click();
    await page.getByText('Saved.').waitFor();
    const saved = (await server.admin('GET', '/admin/services/orders')).json();
    t.same(saved.claims, { api_tier: 'gold', tenant: 'orders' });
    t.equal(saved.access_token_ttl, 300);
    const claimsOfToken = decodeJwt((await token()).json().access_token);
    t.match(claimsOfToken, { api_tier: 'gold', tenant: 'acme' }, "the service's claims, the client's over them");
    await accessibilityCheck(t, 'the service page');
  });

  await t.test('no other errors in the browser console', async (t) => {
    t.same(errors, []);
  });

  async function accessibilityCheck(t: Test, what: string): Promise<void> {
    t.same(await accessibilityViolations(page), [], `${what}: no serious or critical accessibility violations`);
  }
});
