import { createIntl } from 'react-intl';
import t from 'tap';
import {
  claimsText,
  exactTime,
  fieldErrors,
  fieldOf,
  formText,
  fromLocalInput,
  listUrl,
  operatorChoices,
  optionalWholeNumber,
  pageUrl,
  parseClaims,
  problemMessage,
  quotaText,
  relativeTime,
  toLocalInput,
  usageBars,
  words,
} from '../../console/src/format.js';
import { catalogues } from '../../console/src/i18n/messages/index.js';

// The console's own logic, apart from the browser: how it shows times and where it puts
// the server's errors. (Screens are tested in a browser: console.test.ts.)

t.test('relativeTime: the largest unit that fits, in words', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  t.equal(relativeTime('2026-11-25T11:57:00Z', now), '3 minutes ago');
  t.equal(relativeTime('2026-11-27T12:00:00Z', now), 'in 2 days');
  t.equal(relativeTime('2026-11-25T12:00:00Z', now), 'now');
  t.equal(relativeTime('2026-11-24T12:00:00Z', now), 'yesterday');
  t.equal(relativeTime('2025-11-25T12:00:00Z', now), 'last year');
});

t.test('exactTime: UTC, to the second', async (t) => {
  t.equal(exactTime('2026-11-25T12:34:56.789Z'), '2026-11-25 12:34:56 UTC');
});

t.test("fieldOf: the form field a problem's error path names", async (t) => {
  t.equal(fieldOf('/grants/0/scopes/1'), 'grants');
  t.equal(fieldOf('/name'), 'name');
  t.equal(fieldOf(''), 'form', 'an error about the whole body');
  t.equal(fieldOf('/'), 'form');
});

t.test('toLocalInput: a datetime-local value, or empty', async (t) => {
  t.equal(toLocalInput(null), '');
  t.equal(toLocalInput('not a date'), '');
  const value = toLocalInput('2026-11-25T12:34:56Z');
  t.match(value, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, 'minutes precision, no zone');
  t.equal(new Date(value).getTime(), Date.parse('2026-11-25T12:34:00Z'), 'the same instant, read back as local time');
});

t.test('fromLocalInput: ISO 8601 from a datetime-local value, toLocalInput read back', async (t) => {
  t.equal(fromLocalInput(''), '');
  t.equal(fromLocalInput('not a date'), '');
  t.equal(fromLocalInput(toLocalInput('2026-11-25T12:34:00Z')), '2026-11-25T12:34:00.000Z');
});

t.test("formText: a form field's text, trimmed, or empty when there is no such field", async (t) => {
  const form = new FormData();
  form.set('name', '  Billing  ');
  t.equal(formText(form, 'name'), 'Billing');
  t.equal(formText(form, 'owner'), '');
});

t.test('words: separated by spaces, commas or new lines, none empty', async (t) => {
  t.same(words(' orders:read, orders:write\n10.0.0.0/8 '), ['orders:read', 'orders:write', '10.0.0.0/8']);
  t.same(words(' , \n'), []);
});

t.test('listUrl and pageUrl: a list screen at a page, no bare question mark', async (t) => {
  t.equal(listUrl('/clients', new URLSearchParams()), '/clients');
  t.equal(listUrl('/clients', new URLSearchParams({ owner: 'alice bob' })), '/clients?owner=alice+bob');
  t.equal(pageUrl('/audit', 'action=client.updated', 'c2'), '/audit?action=client.updated&cursor=c2');
  t.equal(pageUrl('/audit', 'action=client.updated&cursor=c2', 'c3'), '/audit?action=client.updated&cursor=c3', 'the cursor replaced');
  t.equal(pageUrl('/audit', 'action=client.updated&cursor=c2', null), '/audit?action=client.updated', 'the first page');
  t.equal(pageUrl('/clients', 'cursor=c2', null), '/clients');
});

t.test("problemMessage: a problem's detail, else the fallback", async (t) => {
  t.equal(problemMessage({ type: 'about:blank', title: 'Bad Request', detail: 'name is required' }), 'name is required');
  t.equal(problemMessage(undefined, 'The key could not be rotated.'), 'The key could not be rotated.');
  t.equal(problemMessage({ detail: 42 }), 'The request failed.');
});

t.test('fieldErrors: messages by the field they name, the rest for the form', async (t) => {
  t.same(
    fieldErrors(
      {
        detail: 'invalid',
        errors: [
          { path: '/grants/0/scopes/1', message: 'unknown scope' },
          { path: '/grants/1', message: 'twice' },
          { path: '', message: 'x' },
        ],
      },
      'failed',
    ),
    { grants: ['unknown scope', 'twice'], form: ['x'] },
  );
  t.same(fieldErrors({ detail: 'scope in use', clients: ['a', 'b'] }, 'failed'), { form: ['scope in use Still granted to: a, b.'] });
  t.same(
    fieldErrors(
      { detail: 'service "orders" is still granted to clients: alice-billing, bob-sync', clients: ['alice-billing', 'bob-sync'] },
      'x',
    ),
    { form: ['service "orders" is still granted to clients: alice-billing, bob-sync'] },
    'clients the detail names are not listed again',
  );
  t.same(
    fieldErrors(
      { detail: 'still granted to clients: alice-billing-2', clients: ['alice-billing', 'alice-billing-2', 'alice-billing'] },
      'x',
    ),
    { form: ['still granted to clients: alice-billing-2 Still granted to: alice-billing.'] },
    'a client named only inside another ID is listed, once',
  );
  t.same(fieldErrors(undefined, 'The client could not be saved.'), { form: ['The client could not be saved.'] });
});

t.test('parseClaims: a JSON object, or why not; empty is none', async (t) => {
  t.same(parseClaims(''), { claims: {} });
  t.same(parseClaims('  {"tenant": "acme", "tags": [1]} '), { claims: { tenant: 'acme', tags: [1] } });
  t.match(parseClaims('{"tenant": acme}'), { error: /^not valid JSON/ });
  for (const text of ['[]', '"x"', '42', 'null']) t.match(parseClaims(text), { error: /must be a JSON object/ }, text);
  t.equal(claimsText({}), '');
  t.same(parseClaims(claimsText({ a: { b: 1 } })), { claims: { a: { b: 1 } } }, 'claimsText is read back as it was');
});

t.test('optionalWholeNumber: empty is null, digits a number, anything else undefined', async (t) => {
  t.equal(optionalWholeNumber(' '), null);
  t.equal(optionalWholeNumber(' 900 '), 900);
  for (const text of ['-1', '1.5', '1e3', 'ten']) t.equal(optionalWholeNumber(text), undefined, text);
});

t.test('usageBars: one bar per bucket, scaled to the busiest, refusals stacked on tokens', async (t) => {
  const { bars, max } = usageBars(
    [
      { tokens: 0, refusals: 0 },
      { tokens: 300, refusals: 100 },
      { tokens: 1, refusals: 0 },
      { tokens: 100, refusals: 0 },
    ],
    400,
    100,
  );
  t.equal(max, 400);
  t.equal(bars.length, 4);
  t.same(
    bars.map((bar) => bar.x),
    [1, 101, 201, 301],
  );
  t.equal(bars[0]?.tokensHeight, 0, 'nothing: no bar');
  t.same(
    [bars[1]?.tokensHeight, bars[1]?.tokensY, bars[1]?.refusalsHeight, bars[1]?.refusalsY],
    [75, 25, 25, 0],
    'the busiest fills the height',
  );
  t.equal(bars[2]?.tokensHeight, 1, 'one token still shows');
  t.equal(bars[3]?.tokensHeight, 25);
  t.same(usageBars([], 100, 50), { bars: [], max: 0 });
  t.equal(usageBars([{ tokens: 0, refusals: 0 }], 10, 10).bars[0]?.tokensHeight, 0, 'all zero: flat, not NaN');
});

t.test('operatorChoices: the roles every granted service offers, the smallest lifetime they all allow', async (t) => {
  const service = (id: string, roles: string[], max: number | null, selfService = true) => ({
    id,
    self_service: selfService,
    self_service_roles: roles,
    self_service_max_access_token_ttl: max,
  });
  const services = [
    service('orders', ['reader', 'writer'], 600),
    service('reports', ['reader'], 1200),
    service('sandbox', ['admin'], null),
  ];
  t.same(operatorChoices(services, ['orders']), { roles: ['reader', 'writer'], maxTtl: 600 });
  t.same(operatorChoices(services, ['orders', 'reports']), { roles: ['reader'], maxTtl: 600 }, 'what both offer');
  t.same(operatorChoices(services, ['orders', 'sandbox']), { roles: [], maxTtl: null }, 'sandbox offers no lifetime and no common role');
  t.same(operatorChoices(services, ['orders', 'billing']), { roles: [], maxTtl: null }, 'a service operators do not see offers nothing');
  t.same(
    operatorChoices([...services, service('closed', ['reader'], 600, false)], ['closed']),
    { roles: [], maxTtl: null },
    'nor one not open to self-service',
  );
  t.same(operatorChoices(services, []), { roles: [], maxTtl: null }, 'no grants: nothing');
});

t.test('quotaText: the default, none, or the limits and the mode', async (t) => {
  const english = createIntl({ locale: 'en', messages: catalogues.en });
  t.equal(quotaText(null, english), "the server's default");
  t.equal(quotaText({ per_hour: null, per_day: null, mode: 'enforce' }, english), 'none');
  t.equal(quotaText({ per_hour: 100, per_day: 1000, mode: 'log' }, english), '100 per hour, 1,000 per day (logged only)');
  t.equal(quotaText({ per_hour: 5, per_day: null, mode: 'enforce' }, english), '5 per hour (enforced)');
  const german = createIntl({ locale: 'de', messages: catalogues.de });
  t.equal(
    quotaText({ per_hour: 100, per_day: 1000, mode: 'log' }, german),
    '100 pro Stunde, 1.000 pro Tag (nur protokolliert)',
    'in the person’s words and numbers',
  );
});
