import t from 'tap';
import { bootstrapSecretWarning, charactersUnsafeForBasic } from '../../src/clients/bootstrap.js';
import { prepareDatabase } from '../../src/prepare.js';
import { captureLogs, createTestDatabase, testConfig } from '../helpers.js';

t.test('which characters of a secret clients mishandle over HTTP Basic', async (t) => {
  t.same(charactersUnsafeForBasic('Az09-._~'), [], "RFC 3986's unreserved characters are safe");
  t.same(charactersUnsafeForBasic('a+b/c:d%e f+'), ['+', '/', ':', '%', ' '], 'each unsafe character once, in order');
  t.equal(bootstrapSecretWarning('portier_cs_generated-secret.0~9'), undefined, 'no warning for a safe secret');
  const warning = bootstrapSecretWarning('p@ss word');
  t.match(warning, /BOOTSTRAP_ADMIN_CLIENT_SECRET/, 'the warning names the variable');
  t.match(warning, /"@", space/, 'and the characters');
  t.match(warning, /Authlib.*requests-oauthlib.*google-oauth-client.*curl -u/, 'and the clients that mishandle them');
  t.match(warning, /client_secret_post/, 'and what to do');
  t.notMatch(warning, /p@ss word/, 'but never the secret');
});

t.test('a start with such a bootstrap secret warns once; a safe one does not', async (t) => {
  for (const [secret, warns] of [
    ['needs+encoding/over:basic', true],
    ['safe-secret_0123456789.abc~', false],
  ] as const) {
    const logs = captureLogs('info');
    const { database } = await createTestDatabase(t);
    await prepareDatabase(database, testConfig({ bootstrapAdmin: { clientId: 'root-admin', clientSecret: secret } }), logs.logger);
    const warnings = logs.lines().filter((line) => String(line.msg).startsWith('BOOTSTRAP_ADMIN_CLIENT_SECRET contains'));
    t.equal(warnings.length, warns ? 1 : 0, `${secret}: ${warns ? 'one warning' : 'no warning'}`);
    t.notMatch(logs.text(), secret, 'the secret is not in the log');
  }
});
