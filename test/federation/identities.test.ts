import t from 'tap';
import { type FederatedIdentity, identityMatches, readClaim } from '../../src/federation/identities.js';

// The one rule of what a platform token must carry to sign in as a federated identity.

const GITHUB: FederatedIdentity = {
  issuerId: 'github',
  subject: 'repo:acme/billing:ref:refs/heads/main',
  claims: { repository_owner: 'acme', runner_environment: 'github-hosted' },
};
const TOKEN = {
  sub: 'repo:acme/billing:ref:refs/heads/main',
  aud: ['https://portier.example', 'https://other.example'],
  repository_owner: 'acme',
  runner_environment: 'github-hosted',
  run_attempt: '1',
  retries: 2,
  'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'reporter', uid: 'u-1' } },
  'a/b': { 'c~d': true },
};

t.test('identityMatches: the exact subject and every claim', async (t) => {
  t.ok(identityMatches(GITHUB, TOKEN), 'subject and claims equal');
  t.notOk(identityMatches(GITHUB, { ...TOKEN, sub: 'repo:acme/billing:ref:refs/heads/dev' }), 'another subject');
  t.notOk(identityMatches(GITHUB, { ...TOKEN, sub: 'REPO:acme/billing:ref:refs/heads/main' }), 'subjects are case-sensitive');
  t.notOk(identityMatches(GITHUB, { ...TOKEN, runner_environment: 'self-hosted' }), 'a claim that differs');
  const { repository_owner: _owner, ...withoutOwner } = TOKEN;
  t.notOk(identityMatches(GITHUB, withoutOwner), 'a claim that is missing');
  t.ok(identityMatches({ ...GITHUB, claims: {} }, { sub: GITHUB.subject }), 'no claims: the subject alone');
  t.ok(identityMatches({ ...GITHUB, claims: { aud: 'https://other.example' } }, TOKEN), 'an array claim containing the value');
  t.notOk(identityMatches({ ...GITHUB, claims: { aud: 'https://third.example' } }, TOKEN), 'an array claim without it');
  t.notOk(identityMatches({ ...GITHUB, claims: { run_attempt: 1 } }, TOKEN), 'types are not converted: 1 is not "1"');
  t.ok(identityMatches({ ...GITHUB, claims: { retries: 2 } }, TOKEN), 'a number equal');
  t.notOk(identityMatches({ ...GITHUB, claims: { 'kubernetes.io': 'payments' } }, TOKEN), 'an object claim is no string');
  t.notOk(identityMatches({ ...GITHUB, claims: { sub: 'x' } }, TOKEN), 'a claim named sub is compared too');
});

t.test('readClaim: a top-level name, or a JSON Pointer', async (t) => {
  t.equal(readClaim(TOKEN, 'repository_owner'), 'acme');
  t.equal(readClaim(TOKEN, '/kubernetes.io/serviceaccount/uid'), 'u-1', 'a pointer into an object');
  t.equal(readClaim(TOKEN, '/aud/1'), 'https://other.example', 'a pointer into an array');
  t.equal(readClaim(TOKEN, '/a~1b/c~0d'), true, '~1 is "/" and ~0 is "~"');
  t.equal(readClaim(TOKEN, 'kubernetes.io/namespace'), undefined, 'without the leading "/", a name, not a path');
  t.equal(readClaim(TOKEN, '/kubernetes.io/missing/deeper'), undefined, 'a path that does not exist');
  t.equal(readClaim(TOKEN, '/repository_owner/length'), undefined, 'no member of a string');
  t.equal(readClaim(TOKEN, 'constructor'), undefined, 'own members only');
  t.equal(readClaim(TOKEN, '/kubernetes.io/__proto__'), undefined, 'no prototype through a pointer');
  t.equal(readClaim(TOKEN, '/kubernetes.io/toString'), undefined);
});
