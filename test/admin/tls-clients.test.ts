import { exportJWK } from 'jose';
import t from 'tap';
import { buildWithAdmin, runCli } from '../helpers.js';
import { issueCertificate } from '../pki.js';

/** Certificate clients through the admin API: the RFC 8705 fields, their checks, the resource, a switch of method. */

const base = { name: 'Certificate client', owner: 'team-a' };

t.test('tls_client_auth: exactly one well-formed subject or SAN', async (t) => {
  const { admin } = await buildWithAdmin(t);
  const created = await admin('POST', '/admin/clients', {
    ...base,
    client_id: 'pki-client',
    auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=pki client,O=Example',
  });
  t.equal(created.statusCode, 201, created.body);
  const client = created.json();
  t.equal(client.client_secret, undefined, 'no secret');
  t.equal(client.tls_client_auth_subject_dn, 'CN=pki client,O=Example');
  t.equal(client.tls_client_auth_san_dns, null);
  t.equal(client.tls_client_certificate_bound_access_tokens, true, 'bound by default');

  const problems: Array<[Record<string, unknown>, string]> = [
    [{ auth_method: 'tls_client_auth' }, '/tls_client_auth_subject_dn'],
    [
      { auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=a', tls_client_auth_san_dns: 'a.example' },
      '/tls_client_auth_san_dns',
    ],
    [{ auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'no equals sign' }, '/tls_client_auth_subject_dn'],
    [{ auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'XX=unknown type' }, '/tls_client_auth_subject_dn'],
    [{ auth_method: 'tls_client_auth', tls_client_auth_san_ip: '010.0.0.1' }, '/tls_client_auth_san_ip'],
    [{ auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'not a uri' }, '/tls_client_auth_san_uri'],
    [{ auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'bad host!' }, '/tls_client_auth_san_dns'],
    [{ auth_method: 'tls_client_auth', tls_client_auth_san_email: 'nobody' }, '/tls_client_auth_san_email'],
    [{ tls_client_auth_san_dns: 'a.example' }, '/tls_client_auth_san_dns'],
    [{ auth_method: 'self_signed_tls_client_auth' }, '/jwks'],
  ];
  for (const [fields, path] of problems) {
    const res = await admin('POST', '/admin/clients', { ...base, ...fields });
    t.equal(res.statusCode, 400, JSON.stringify(fields));
    t.ok(
      (res.json().errors as Array<{ path: string }> | undefined)?.some((error) => error.path === path),
      `${JSON.stringify(fields)}: ${path} named`,
    );
  }
  const list = await admin('GET', '/admin/clients');
  t.equal(list.json().items.length, 2, 'nothing half-written (the admin and the one client)');
});

t.test('a switch to self_signed_tls_client_auth and back', async (t) => {
  const { admin } = await buildWithAdmin(t);
  const created = await admin('POST', '/admin/clients', { ...base, client_id: 'switcher' });
  t.ok(created.json().client_secret, 'a secret client first');
  const device = issueCertificate({ subject: [['CN', 'device']] });
  const jwk = await exportJWK(device.x509.publicKey);
  const switched = await admin('PATCH', '/admin/clients/switcher', { auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } });
  t.equal(switched.statusCode, 200, switched.body);
  t.equal(switched.json().auth_method, 'self_signed_tls_client_auth');
  t.equal(switched.json().tls_client_certificate_bound_access_tokens, true);
  const off = await admin('PATCH', '/admin/clients/switcher', { tls_client_certificate_bound_access_tokens: false });
  t.equal(off.json().tls_client_certificate_bound_access_tokens, false, 'turned off');
  const back = await admin('PATCH', '/admin/clients/switcher', {
    auth_method: 'tls_client_auth',
    tls_client_auth_san_uri: 'spiffe://example.org/a',
  });
  t.equal(back.statusCode, 200, back.body);
  t.equal(back.json().tls_client_auth_san_uri, 'spiffe://example.org/a');
  t.equal(back.json().jwks, null, 'the keys are gone');
  const audit = await admin('GET', '/admin/audit-events?client_id=switcher');
  t.match(audit.body, /tls_client_auth_san_uri/);
});

t.test('configuration as code and the command line take the same fields', async (t) => {
  const server = await buildWithAdmin(t);
  const document = {
    clients: [
      {
        client_id: 'svid-client',
        name: 'SVID client',
        owner: 'mesh',
        auth_method: 'tls_client_auth',
        tls_client_auth_san_uri: 'spiffe://mesh.example/ns/a/sa/b',
      },
    ],
  };
  const applied = await server.admin('POST', '/admin/config/apply', document);
  t.equal(applied.statusCode, 200, applied.body);
  t.same(applied.json().secrets, {}, 'no secret made');
  const again = await server.admin('POST', '/admin/config/apply', document);
  t.same(again.json().changes, [], 'applied again: nothing changes');

  const created = await runCli(server.database, [
    'clients',
    'create',
    '--name',
    'From the CLI',
    '--owner',
    'ops',
    '--client-id',
    'cli-cert',
    '--auth-method',
    'tls_client_auth',
    '--tls-subject-dn',
    'CN=cli cert,O=Example',
  ]);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /"tls_client_auth_subject_dn": "CN=cli cert,O=Example"/);
  const updated = await runCli(server.database, ['clients', 'update', 'cli-cert', '--no-certificate-bound']);
  t.equal(updated.code, 0, updated.stderr);
  t.match(updated.stdout, /"tls_client_certificate_bound_access_tokens": false/);
});
