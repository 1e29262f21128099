import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  checksum,
  generateOpaqueSecret,
  generateSelfIdentifyingSecret,
  newCredentialId,
  readPresentedSecret,
} from '../../src/clients/secrets.js';
import { redactSecrets } from '../../src/lib/redact.js';

// Self-identifying secrets: their shape, their checksum, and the gitleaks rule that
// docs/clients.md gives, taken from the page itself so that the page stays true.

const page = readFileSync(new URL('../../docs/clients.md', import.meta.url), 'utf8');
const ruleSource = /^regex = '''(.+)'''$/m.exec(page)?.[1];
const genericSource = /^The same regular expression serves other scanners[^`]*`([^`]+)`/m.exec(page)?.[1];

t.test('the gitleaks rule and the generic expression of the docs find every generated secret', async (t) => {
  t.ok(ruleSource, 'the page has a gitleaks rule');
  t.equal(genericSource, ruleSource, 'and the same expression for other scanners');
  const rule = new RegExp(ruleSource ?? '^$');
  for (let i = 0; i < 500; i++) {
    const secret = generateSelfIdentifyingSecret(newCredentialId(), i % 2 === 0 ? 'portier' : 'acme2');
    if (!rule.test(`CLIENT_SECRET=${secret}\n`)) t.fail(`not found: ${secret}`);
  }
  t.pass('500 generated secrets found, under two prefixes');
});

t.test('near misses are not found', async (t) => {
  const rule = new RegExp(ruleSource ?? '^$');
  const id = newCredentialId();
  const secret = generateSelfIdentifyingSecret(id);
  const [prefix, , idPart, random, sum] = secret.split('_') as [string, string, string, string, string];
  const nearMisses: Record<string, string> = {
    'a secret of the earlier form': generateOpaqueSecret(),
    'a credential id alone': id,
    'a random part one short': `${prefix}_cred_${idPart}_${random.slice(1)}_${sum}`,
    'a random part one long': `${prefix}_cred_${idPart}_${random}x_${sum}`,
    'a credential id one short': `${prefix}_cred_${idPart.slice(1)}_${random}_${sum}`,
    'no checksum': `${prefix}_cred_${idPart}_${random}`,
    'a checksum one short': `${prefix}_cred_${idPart}_${random}_${sum.slice(1)}`,
    'a prefix of two characters': `pt_cred_${idPart}_${random}_${sum}`,
    'a prefix of seventeen characters': `abcdefghijklmnopq_cred_${idPart}_${random}_${sum}`,
    'a hyphen instead of an underscore': `${prefix}-cred_${idPart}_${random}_${sum}`,
    'a character outside base62': `${prefix}_cred_${idPart}_${random.slice(1)}+_${sum}`,
  };
  for (const [label, text] of Object.entries(nearMisses)) t.notOk(rule.test(` ${text} `), label);
});

t.test('the checksum is checked without any lookup', async (t) => {
  const id = newCredentialId();
  const secret = generateSelfIdentifyingSecret(id);
  t.same(readPresentedSecret(secret), { form: 'named', credentialId: id }, 'a generated secret names its credential');
  t.equal(secret.slice(-6), checksum(secret.slice(0, -7)), 'the checksum is the CRC32 of what precedes it');
  t.match(checksum(''), /^[0-9A-Za-z]{6}$/, 'always six base62 characters');
  const flipped = `${secret.slice(0, 40)}${secret[40] === 'a' ? 'b' : 'a'}${secret.slice(41)}`;
  t.same(readPresentedSecret(flipped), { form: 'forged', problem: 'secret with a wrong checksum' }, 'one character changed');
  t.same(
    readPresentedSecret(generateSelfIdentifyingSecret(id, 'acme')),
    { form: 'forged', problem: 'secret with another prefix' },
    'another prefix than ours',
  );
  t.same(readPresentedSecret(`${secret}x`), { form: 'forged', problem: 'malformed self-identifying secret' }, 'too long');
  t.same(readPresentedSecret(generateOpaqueSecret()), { form: 'opaque' }, 'an earlier secret is looked up as before');
  t.same(readPresentedSecret('an operator chose this'), { form: 'opaque' });
  t.same(readPresentedSecret(generateSelfIdentifyingSecret(id, 'acme'), 'acme'), { form: 'named', credentialId: id }, 'SECRET_PREFIX=acme');
});

t.test('a self-identifying secret is redacted but for its prefix and credential id', async (t) => {
  const id = newCredentialId();
  const secret = generateSelfIdentifyingSecret(id);
  const redacted = redactSecrets(`client_id was ${secret} here`);
  t.equal(redacted, `client_id was portier_${id}_[redacted] here`);
  t.equal(redactSecrets(secret.slice(0, 40)), `portier_${id}_[redacted]`, 'also its beginning, as a log line cuts it');
});
