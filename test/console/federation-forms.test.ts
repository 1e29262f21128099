import { createIntl } from 'react-intl';
import t from 'tap';
import { authMethodMessage, identitiesFromRows, identityRows } from '../../console/src/clients/federated-identities.js';
import { catalogues } from '../../console/src/i18n/messages/index.js';
import { ALGORITHMS, issuerFormBody, keySourceOf } from '../../console/src/trusted-issuers/issuer-form.js';
import { FEDERATED_ALGORITHMS } from '../../src/schemas/enums.js';

// The pure parts of the console's trusted-issuer form and identities editor, without a browser.

const FORM = {
  issuer: ' https://oidc.prod.example ',
  source: 'discovery' as const,
  jwksUri: 'https://ignored.example/keys',
  jwksText: 'not even JSON',
  audience: '',
  maxTokenAge: '',
  algorithms: ['ES256' as const, 'RS256' as const],
};

const intl = createIntl({ locale: 'en', messages: catalogues.en });
t.test('issuerFormBody: every field, from where its keys come', async (t) => {
  t.same(issuerFormBody(FORM, intl), {
    ok: true,
    body: {
      issuer: 'https://oidc.prod.example',
      jwks_uri: null,
      jwks: null,
      audience: null,
      max_token_age: 3600,
      algorithms: ['ES256', 'RS256'],
    },
  });
  const byUri = issuerFormBody({ ...FORM, source: 'jwks_uri', audience: ' https://portier.example ', maxTokenAge: '600' }, intl);
  t.match(byUri, {
    ok: true,
    body: { jwks_uri: 'https://ignored.example/keys', jwks: null, audience: 'https://portier.example', max_token_age: 600 },
  });
  t.same(issuerFormBody({ ...FORM, source: 'jwks', maxTokenAge: '1.5' }, intl), {
    ok: false,
    errors: { jwks: ['is not JSON: paste a key set, {"keys": […]}'], max_token_age: ['must be a whole number of seconds'] },
  });
  t.match(issuerFormBody({ ...FORM, source: 'jwks', jwksText: '{"keys":[{"kty":"EC"}]}' }, intl), {
    ok: true,
    body: { jwks: { keys: [{ kty: 'EC' }] } },
  });
  t.equal(keySourceOf(undefined), 'discovery');
});

t.test('identities: rows to the API and back', async (t) => {
  const rows = [
    { issuer: 'github', subject: ' repo:acme/billing:ref:refs/heads/main ', claims: 'repository_owner = acme\n\n/a/b=x=y\n' },
    { issuer: 'cluster', subject: 'system:serviceaccount:a:b', claims: '' },
  ];
  const made = identitiesFromRows(rows);
  t.same(made, {
    ok: true,
    identities: [
      { issuer: 'github', subject: 'repo:acme/billing:ref:refs/heads/main', claims: { repository_owner: 'acme', '/a/b': 'x=y' } },
      { issuer: 'cluster', subject: 'system:serviceaccount:a:b' },
    ],
  });
  t.same(identitiesFromRows([{ ...rows[1], claims: 'no equals' } as (typeof rows)[number]]), {
    ok: false,
    error: { identity: 1, line: 'no equals' },
  });
  t.same(identitiesFromRows([{ ...rows[1], claims: '=value' } as (typeof rows)[number]]).ok, false, 'a claim needs a name');
  t.same(identityRows([{ issuer: 'g', subject: 's', claims: { a: 'b', n: 1, f: false } }]), [
    { issuer: 'g', subject: 's', claims: 'a=b\nn=1\nf=false' },
  ]);
  t.equal(catalogues.en[authMethodMessage('federated')], 'platform identities (federated)');
  t.equal(catalogues.en[authMethodMessage('client_secret')], 'client secret');
});

t.test('the form offers every algorithm a trusted issuer may allow, and no other', async (t) => {
  t.same([...ALGORITHMS].sort(), [...FEDERATED_ALGORITHMS].sort());
});
