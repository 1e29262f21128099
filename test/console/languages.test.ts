import { exportJWK, generateKeyPair } from 'jose';
import type { Browser, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { ADMIN_ID, ADMIN_SECRET, addClient, addService } from '../helpers.js';
import { browserMissing, checkScreen, collectErrors, launchBrowser, startConsole } from './browser.js';

/**
 * The console in Dutch, French and German, in Berlin and New York: the language follows the
 * browser, the switch changes and remembers it, a whole new-client flow in each language
 * (the grant picked but not "added" is kept; the expiry typed in the person's zone is stored
 * as that instant and shown back in that zone, UTC on hover), axe clean in each language;
 * then the list's row switch with undo, sorting in the URL, select all and the creator and
 * expiry filters.
 */

interface Words {
  locale: string;
  timezoneId: string;
  clientId: string;
  secret: string;
  signIn: string;
  newClient: string;
  name: string;
  service: string;
  submit: string;
  secretTitle: RegExp;
  close: string;
  yesClose: string;
  clients: string;
  expires: string;
  /** The expiry as typed (datetime-local), and the instant it is in the test's zone. */
  typed: string;
  stored: string;
  /** The hour the list must show for it. */
  shownHour: RegExp;
}

const LANGUAGES: Record<'nl' | 'fr' | 'de', Words> = {
  nl: {
    locale: 'nl-NL',
    timezoneId: 'Europe/Berlin',
    clientId: 'Client-ID',
    secret: 'Clientgeheim',
    signIn: 'Inloggen',
    newClient: 'Nieuwe API-client',
    name: 'Naam',
    service: 'Service',
    submit: 'Client toevoegen en inloggegevens genereren',
    secretTitle: /^Clientgeheim van /,
    close: 'Sluiten',
    yesClose: 'Ja, sluiten',
    clients: 'API-clients',
    expires: 'Vervaldatum',
    typed: '2030-06-01T17:00',
    stored: '2030-06-01T15:00:00.000Z', // Berlin is UTC+2 in summer
    shownHour: /17:00/,
  },
  fr: {
    locale: 'fr-FR',
    timezoneId: 'America/New_York',
    clientId: 'Identifiant client',
    secret: 'Secret client',
    signIn: 'Se connecter',
    newClient: 'Nouveau compte API',
    name: 'Nom',
    service: 'Service',
    submit: 'Créer le compte API',
    secretTitle: /^Secret client de /,
    close: 'Fermer',
    yesClose: 'Oui, fermer',
    clients: 'Comptes API',
    expires: 'Expiration',
    typed: '2030-01-15T09:30',
    stored: '2030-01-15T14:30:00.000Z', // New York is UTC−5 in winter
    shownHour: /09:30/,
  },
  de: {
    locale: 'de-DE',
    timezoneId: 'Europe/Berlin',
    clientId: 'Client-ID',
    secret: 'Client-Secret',
    signIn: 'Anmelden',
    newClient: 'API-Client hinzufügen',
    name: 'Name',
    service: 'Dienst',
    submit: 'API-Client erstellen',
    secretTitle: /^Client-Secret für /,
    close: 'Schließen',
    yesClose: 'Ja, schließen',
    clients: 'API-Clients',
    expires: 'Läuft ab',
    typed: '2030-12-24T17:00',
    stored: '2030-12-24T16:00:00.000Z', // Berlin is UTC+1 in winter
    shownHour: /17:00/,
  },
};

type Server = Awaited<ReturnType<typeof startConsole>>['server'];

async function openIn(t: Test, browser: Browser, origin: string, words: Pick<Words, 'locale' | 'timezoneId'>) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: words.locale, timezoneId: words.timezoneId });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${origin}/console/clients`);
  return { page, errors };
}

async function signInAs(page: Page, words: Words) {
  await page.getByLabel(words.clientId, { exact: true }).fill(ADMIN_ID);
  await page.getByLabel(words.secret, { exact: true }).fill(ADMIN_SECRET);
  await page.getByRole('button', { name: words.signIn, exact: true }).click();
  await page.getByRole('heading', { name: words.clients, level: 1 }).waitFor();
}

t.test('the console in Dutch, French and German', { skip: browserMissing() }, async (t) => {
  const { server, origin } = await startConsole(t);
  await addService(server.database, {
    id: 'events',
    name: 'OpenHappening',
    audience: 'https://events.example',
    scopes: ['events:read', 'events:write'],
  });
  const browser = await launchBrowser(t);

  for (const [language, words] of Object.entries(LANGUAGES)) {
    await t.test(`${language} (${words.timezoneId}): sign in, create a client, see it`, async (t) => {
      const { page, errors } = await openIn(t, browser, origin, words);
      await page.getByRole('button', { name: words.signIn, exact: true }).waitFor();
      t.equal(await page.evaluate('document.documentElement.lang'), language, '<html lang> follows the browser’s language');
      await signInAs(page, words);
      t.equal(await page.locator('header select').inputValue(), language, 'the switch shows it');

      await page.getByRole('link', { name: words.newClient }).click();
      await page.getByRole('heading', { name: words.newClient, level: 1 }).waitFor();
      const clientId = `flow-${language}`;
      await page.getByLabel(words.name, { exact: true }).fill(`Koppeling ${language}`);
      await page.locator('#client-id').fill(clientId);
      await page.locator('#client-owner').fill(`owner-${language}@example.com`);
      // A service and a scope picked in the picker, never "added": still granted.
      await page.getByLabel(words.service, { exact: true }).selectOption('events');
      await page.getByLabel('events:read').check();
      t.match(await page.locator('label[for="client-expires"]').innerText(), words.timezoneId, 'the expiry field names the zone');
      await page.locator('#client-expires').fill(words.typed);
      await checkScreen(t, page, `create-client-${language}`);
      await page.getByRole('button', { name: words.submit }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: words.secretTitle }).waitFor();
      await checkScreen(t, page, `secret-dialog-${language}`);
      await dialog.getByRole('button', { name: words.close, exact: true }).click();
      await dialog.getByRole('button', { name: words.yesClose }).click();
      await page.waitForURL(new RegExp(`/console/clients/${clientId}$`));

      const stored = (await server.admin('GET', `/admin/clients/${clientId}`)).json() as {
        grants: Array<{ service: string; scopes: string[] }>;
        expires_at: string;
      };
      t.same(stored.grants, [{ service: 'events', scopes: ['events:read'] }], 'the picked grant was sent');
      t.equal(stored.expires_at, words.stored, `${words.typed} in ${words.timezoneId} is stored as that instant`);

      await page.getByRole('link', { name: words.clients, exact: true }).first().click();
      const row = page.locator('table.clients tbody tr').filter({ hasText: clientId });
      await row.waitFor();
      const expires = row.locator(`td[data-label="${words.expires}"] time`);
      t.match(await expires.innerText(), words.shownHour, 'the list shows the expiry in the person’s zone');
      t.equal(await expires.getAttribute('title'), words.stored.replace('T', ' ').replace('.000Z', ' UTC'), 'and UTC on hover');
      await checkScreen(t, page, `clients-${language}`, true);
      t.same(errors, [], 'no errors in the browser console');
    });
  }

  await t.test('the switch changes the language at once, and it is remembered', async (t) => {
    const { page } = await openIn(t, browser, origin, { locale: 'de-DE', timezoneId: 'Europe/Berlin' });
    await signInAs(page, LANGUAGES.de);
    await page.locator('header select').selectOption('fr');
    await page.getByRole('heading', { name: 'Comptes API', level: 1 }).waitFor();
    t.equal(await page.evaluate('document.documentElement.lang'), 'fr');
    await page.reload();
    await page.getByRole('button', { name: 'Se connecter', exact: true }).waitFor();
    t.equal(await page.evaluate('document.documentElement.lang'), 'fr', 'after a reload: French, though the browser says German');
    await page.getByRole('combobox').first().selectOption('en');
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  });

  await t.test('the list: row switch with undo, sorting in the URL, select all, filters', async (t) => {
    await addClients(server);
    const { page, errors } = await openIn(t, browser, origin, { locale: 'de-DE', timezoneId: 'Europe/Berlin' });
    await signInAs(page, LANGUAGES.de);
    const rows = page.locator('table.clients tbody tr');
    const row = (id: string) => rows.filter({ hasText: id });

    // The row switch: at once, audited, with undo.
    await row('zz-last').getByRole('switch').click();
    await page.getByText('zz-last ist deaktiviert').waitFor();
    await row('zz-last')
      .locator('td[data-label="Status"]')
      .filter({ hasText: /^deaktiviert$/ })
      .waitFor();
    t.equal((await server.admin('GET', '/admin/clients/zz-last')).json().enabled, false, 'disabled on the server');
    t.equal(await row('zz-last').getByRole('switch').getAttribute('aria-checked'), 'false');
    await page.getByRole('button', { name: 'Rückgängig' }).click();
    await row('zz-last')
      .locator('td[data-label="Status"]')
      .filter({ hasText: /^aktiv$/ })
      .waitFor();
    t.equal((await server.admin('GET', '/admin/clients/zz-last')).json().enabled, true, 'undone');
    const audit = (await server.admin('GET', '/admin/audit-events?client_id=zz-last')).json() as { items: Array<{ action: string }> };
    t.same(
      audit.items.map((item) => item.action).filter((action) => /disabled|enabled/.test(action)),
      ['client.enabled', 'client.disabled'],
      'both changes are in the audit trail',
    );

    // Sorting: by name, then descending; kept in the URL.
    const ids = async () => (await rows.locator('td[data-label="Client-ID"]').allInnerTexts()).map((text) => text.trim());
    await page.getByRole('link', { name: /^Name/ }).click();
    await page.waitForURL(/sort=name$/);
    await rows.first().waitFor();
    const ascending = await ids();
    t.equal(ascending.at(-1), 'zz-last', 'by name: "Zulu" last');
    await page.getByRole('link', { name: /^Name/ }).click();
    await page.waitForURL(/sort=-name$/);
    // Locators, not waitForFunction: the console's CSP (script-src 'self') refuses the eval it polls with.
    await rows
      .first()
      .locator('code')
      .filter({ hasText: /^zz-last$/ })
      .waitFor();
    t.equal(await page.locator('th[aria-sort="descending"]').count(), 1, 'the heading says how it is sorted');

    // Select all on the page.
    await page.getByLabel('Alle API-Clients auf dieser Seite auswählen').check();
    await page.getByText(`Ausgewählt: ${ascending.length}`).waitFor();
    await page.getByLabel('Alle API-Clients auf dieser Seite auswählen').uncheck();
    await page.getByText('Ausgewählt: 0').waitFor();

    // Filters: expiring within 7 days, kept with the sort.
    await page.getByLabel('Läuft ab', { exact: true }).selectOption('7');
    await page.getByRole('button', { name: 'Filter anwenden' }).click();
    await page.waitForURL(/expires_within=7/);
    await rows.nth(1).waitFor({ state: 'detached' });
    await rows
      .first()
      .locator('code')
      .filter({ hasText: /^soon-expiring$/ })
      .waitFor();
    t.same(await ids(), ['soon-expiring'], 'only the client expiring within 7 days');
    t.match(page.url(), /sort=-name/, 'the sort stays');
    t.same(errors, [], 'no errors in the browser console');
  });

  await t.test('nl: the client screen, its edit form, keys, services and trusted issuers; refusals explained', async (t) => {
    await addClient(server, {
      client_id: 'nl-detail',
      name: 'Koppeling detail',
      owner: 'ann',
      grants: [{ service: 'events', scopes: [] }],
    });
    const keys = await Promise.all(
      [1, 2].map(async (n) => ({ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: `k${n}` })),
    );
    const issuer = await server.admin('POST', '/admin/trusted-issuers', {
      id: 'cluster',
      issuer: 'https://cluster.example',
      jwks: { keys },
    });
    t.equal(issuer.statusCode, 201, 'a trusted issuer with two pasted keys');
    await addService(server.database, { id: 'gone', audience: 'https://gone.example', scopes: [] });
    const { page } = await openIn(t, browser, origin, { locale: 'nl-NL', timezoneId: 'Europe/Amsterdam' });
    await signInAs(page, LANGUAGES.nl);
    const main = page.locator('main');
    // English a screen of this issue showed before; none of it may be left in Dutch.
    const leftovers = async (what: string, english: string[]) => {
      const text = await main.innerText();
      t.same(
        english.filter((phrase) => new RegExp(`\\b${phrase}\\b`).test(text)),
        [],
        `${what}: no English left`,
      );
    };
    /** A shown time: in Amsterdam's hours (the title keeps UTC). */
    const amsterdamHour = (iso: string) =>
      new Intl.DateTimeFormat('nl-NL', { timeZone: 'Europe/Amsterdam', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

    await page.getByRole('link', { name: 'Koppeling detail' }).click();
    await page.getByRole('heading', { name: 'Koppeling detail', level: 1 }).waitFor();
    for (const heading of ['Gebruik', 'Geschiedenis', 'Verwijderen']) await page.getByRole('heading', { name: heading }).waitFor();
    t.match(await main.innerText(), /Levensduur van tokens/);
    await leftovers('client screen', [
      'Usage',
      'History',
      'Delete',
      'Managed',
      'Token lifetime',
      'Custom claims',
      'Service account',
      'Created by',
      'Per hour',
      'Edit client',
    ]);

    await page.getByRole('button', { name: 'API-client bewerken' }).click();
    await page.getByLabel('Eigenaar (draag de API-client over aan iemand anders)').waitFor();
    t.match(await page.locator('label[for="edit-expires"]').innerText(), 'Europe/Amsterdam', 'the expiry names the zone');
    await leftovers('edit form', [
      'Owner',
      'First name',
      'Roles',
      'Lifetime',
      'Token quota',
      'Expires',
      'IP ranges',
      'Save changes',
      'Cancel',
    ]);
    await checkScreen(t, page, 'edit-client-nl');

    await page.getByRole('link', { name: 'Signeersleutels' }).click();
    const created = page.locator('table.keys td[data-label="Aangemaakt"] time').first();
    await created.waitFor();
    const iso = String(await created.getAttribute('datetime'));
    t.match(await created.innerText(), amsterdamHour(iso), 'a key’s time in the person’s zone');
    t.match(await created.innerText(), /CES?T/, 'with the zone named');
    await leftovers('keys', ['Signing keys', 'Key ID', 'Algorithm', 'Active from', 'Published until', 'Rotate', 'UTC']);

    await page.getByRole('link', { name: 'Services', exact: true }).click();
    await page.locator('table.services tbody tr').first().waitFor();
    const updated = page.locator('table.services td[data-label="Gewijzigd"] time').first();
    t.match(await updated.innerText(), amsterdamHour(String(await updated.getAttribute('datetime'))), 'a service’s time too');
    await leftovers('services', ['New service', 'Name', 'separated by spaces', 'Updated', 'Create service', 'Self-service', 'UTC']);
    // A 409: the service exists already. Explained in Dutch; the server's words kept.
    await page.locator('#service-id').fill('events');
    await page.locator('#service-name').fill('Dubbel');
    await page.locator('#service-audience').fill('https://dubbel.example');
    await page.getByRole('button', { name: 'Service toevoegen' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'De service kon niet worden toegevoegd.' });
    await refusal.waitFor();
    t.match(await refusal.innerText(), /Dit botst met wat er al is.*\(Portier: “a service with id "events" already exists”\)/);
    // A 404: a service deleted since the list was shown.
    await server.admin('DELETE', '/admin/services/gone');
    await page.getByRole('link', { name: 'gone', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'De service kon niet worden geladen. Dit bestaat niet (meer)' }).waitFor();

    await page.getByRole('link', { name: 'Vertrouwde uitgevers' }).click();
    const issuerRow = page.locator('table.issuers tbody tr').filter({ hasText: 'cluster' });
    t.match(await issuerRow.innerText(), /2 geplakte sleutels/, 'the count in Dutch plural');
    await leftovers('trusted issuers', [
      'Trusted issuers',
      'Issuer',
      'Oldest token',
      'Updated',
      'pasted',
      'New trusted issuer',
      'Its keys',
      'UTC',
    ]);
    await issuerRow.getByRole('link', { name: 'cluster' }).click();
    await page.getByRole('heading', { name: 'Vertrouwde uitgever cluster' }).waitFor();
    await leftovers('trusted issuer', ['Save trusted issuer', 'Delete', 'Its keys', 'Signature algorithms']);

    // No answer at all: the network.
    await page.route('**/admin/keys', (route) => route.abort());
    await page.getByRole('link', { name: 'Signeersleutels' }).click();
    await page.getByRole('alert').filter({ hasText: 'De sleutels konden niet worden geladen. Portier is niet bereikbaar' }).waitFor();
  });
});

async function addClients(server: Server) {
  await addClient(server, { client_id: 'zz-last', name: 'Zulu', owner: 'ann' });
  await addClient(server, {
    client_id: 'soon-expiring',
    name: 'Alpha',
    owner: 'bob',
    expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
  });
  await addClient(server, {
    client_id: 'later-expiring',
    name: 'Bravo',
    owner: 'bob',
    expires_at: new Date(Date.now() + 20 * 86_400_000).toISOString(),
  });
}
