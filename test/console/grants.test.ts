import t from 'tap';
import { actorsText, exchangeFromText, exchangeText, type Grant, withPickedGrant } from '../../console/src/clients/grants.js';

// The pure part of the console's grant editor, without a browser: a grant's exchange, its
// subjects and its actors, read from the picker's fields and shown in them again, so that
// saving a grant never drops the actors an admin listed.

const GATEWAY: Grant = {
  service: 'ledger',
  scopes: ['ledger:read'],
  exchange: { subjects: ['vendor-eaglebe', 'issuer:corp'], actors: ['orders-svc', 'billing-svc'] },
};

/** The form the grant editor submits, with `grant` picked and its fields as they were shown. */
function pickedForm(grant: Grant): FormData {
  const form = new FormData();
  form.set('grant_service', grant.service);
  for (const scope of grant.scopes) form.append('grant_scope', scope);
  form.set('grant_exchange', exchangeText(grant.exchange));
  form.set('grant_exchange_actors', actorsText(grant.exchange));
  return form;
}

t.test('a grant shown in the picker and saved again keeps its subjects and actors', async (t) => {
  t.same(withPickedGrant([GATEWAY], pickedForm(GATEWAY)), [GATEWAY]);
  const subjectsOnly: Grant = { service: 'ledger', scopes: [], exchange: { subjects: ['*'] } };
  t.same(withPickedGrant([], pickedForm(subjectsOnly)), [subjectsOnly], 'no actors: none written');
  t.same(withPickedGrant([GATEWAY], new FormData()), [GATEWAY], 'nothing picked: the list as it is');
});

t.test('the fields as text: commas or spaces, repeats once, no subjects no exchange', async (t) => {
  t.same(exchangeFromText(' vendor-a,  vendor-b vendor-a ', 'orders-svc,billing-svc, orders-svc'), {
    subjects: ['vendor-a', 'vendor-b'],
    actors: ['orders-svc', 'billing-svc'],
  });
  t.same(exchangeFromText('*', ' '), { subjects: ['*'] });
  t.equal(exchangeFromText('', 'orders-svc'), undefined);
  t.equal(actorsText(GATEWAY.exchange), 'orders-svc, billing-svc');
  t.equal(actorsText({ subjects: ['*'] }), '');
  t.equal(actorsText(undefined), '');
});
