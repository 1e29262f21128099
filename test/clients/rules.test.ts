import { randomBytes } from 'node:crypto';
import t from 'tap';
import { generateClientId, isValidClientId } from '../../src/clients/rules.js';
import { generateOpaqueSecret, hashSecret, OPAQUE_SECRET_PREFIX, verifySecret } from '../../src/clients/secrets.js';
import { decryptAtRest, encryptAtRest } from '../../src/lib/crypto.js';
import { isAddressAllowed, normalizeCidr, parseNetworks } from '../../src/lib/networks.js';
import { CLIENT_ID_PATTERN } from '../../src/schemas/common.js';

t.test('client_id pattern', async (t) => {
  const valid = ['abc', 'eaglebe-events', 'a.b', 'a_b', '0ab', '9.9.9', 'client-0123456789abcdef', 'a'.repeat(64), `x${'-._'.repeat(21)}`];
  for (const id of valid) t.ok(isValidClientId(id), `${JSON.stringify(id)} is valid`);

  const invalid = [
    '',
    'a',
    'ab', // too short
    'a'.repeat(65), // too long
    'Abc', // uppercase
    'ABC',
    'eaglebe-Events',
    'with space',
    ' abc',
    'abc ',
    'abc\n',
    'abc\t',
    '-abc', // must start alphanumeric
    '.abc',
    '_abc',
    'café', // unicode
    'clïent',
    'ａbc', // fullwidth a
    'abc/def',
    'abc:def',
    'abc@def',
    "abc'--",
    'abc%20',
    'abc+def',
  ];
  for (const id of invalid) t.notOk(isValidClientId(id), `${JSON.stringify(id)} is refused`);
  t.equal(CLIENT_ID_PATTERN.test('abc'), true, 'the exported pattern is the same rule');
});

t.test('generateClientId', async (t) => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = generateClientId();
    if (!isValidClientId(id)) t.fail(`generated an invalid client_id ${id}`);
    ids.add(id);
  }
  t.equal(ids.size, 1000, 'a thousand generated ids are all different');
  const sample = generateClientId();
  t.ok(isValidClientId(sample), `${sample} is a valid client_id`);
  t.match(sample, /^client-[a-z0-9]{16}$/);
});

t.test('normalizeCidr', async (t) => {
  const cases: Array<[string, string]> = [
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['192.0.2.7/24', '192.0.2.0/24'], // host bits cleared
    ['10.255.255.255/8', '10.0.0.0/8'],
    ['192.0.2.7', '192.0.2.7/32'], // bare address: one host
    ['192.0.2.7/32', '192.0.2.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['203.0.113.129/25', '203.0.113.128/25'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8::/32', '2001:db8::/32'], // canonical lower case
    ['2001:db8:1234:5678::1/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128'],
    ['::1', '::1/128'],
    ['::/0', '::/0'],
    ['fe80::abcd/10', 'fe80::/10'],
  ];
  for (const [input, expected] of cases) t.equal(normalizeCidr(input), expected, `${input} → ${expected}`);

  const garbage = [
    '',
    'garbage',
    'localhost',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '/8',
    '10.0.0/8x',
    '256.0.0.1',
    '1.2.3.4/32/1',
    '2001:db8::/129',
    '2001:db8:::1',
    ' 10.0.0.0/8',
    '10.0.0.0 /8',
    "10.0.0.0/8'; DROP TABLE clients; --",
    "' OR '1'='1",
    '10.0.0.0/8 OR 1=1',
    // IPv4 shorthand that ipaddr.js would read as octal, hex or a 32-bit number:
    // refused rather than silently turned into a network the admin did not mean.
    '010.0.0.1',
    '010.0.0.0/8',
    '0x0a.0.0.0/8',
    '167772161',
    '1',
    '10.1/16',
  ];
  for (const input of garbage) t.equal(normalizeCidr(input), undefined, `${JSON.stringify(input)} is not a network`);
});

t.test('isAddressAllowed', async (t) => {
  const v4 = parseNetworks(['10.0.0.0/8', '192.0.2.7/32']);
  t.ok(isAddressAllowed('10.1.2.3', v4), 'inside 10.0.0.0/8');
  t.ok(isAddressAllowed('10.255.255.255', v4), 'last address of 10.0.0.0/8');
  t.ok(isAddressAllowed('192.0.2.7', v4), 'the single host');
  t.notOk(isAddressAllowed('192.0.2.8', v4), 'next to the single host');
  t.notOk(isAddressAllowed('11.0.0.1', v4), 'outside');
  t.ok(isAddressAllowed('::ffff:10.1.2.3', v4), 'IPv4-mapped IPv6 caller matches the IPv4 network');
  t.ok(isAddressAllowed('::FFFF:192.0.2.7', v4), 'IPv4-mapped, upper case');
  t.notOk(isAddressAllowed('::ffff:11.1.2.3', v4), 'IPv4-mapped outside the network');
  t.notOk(isAddressAllowed('2001:db8::1', v4), 'an IPv6 caller never matches an IPv4 network');
  t.notOk(isAddressAllowed('::a01:203', v4), 'IPv4-compatible (not mapped) IPv6 is not IPv4');

  const v6 = parseNetworks(['2001:db8::/32']);
  t.ok(isAddressAllowed('2001:db8::1', v6), 'inside 2001:db8::/32');
  t.ok(isAddressAllowed('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', v6), 'last address');
  t.notOk(isAddressAllowed('2001:db9::1', v6), 'outside');
  t.notOk(isAddressAllowed('10.1.2.3', v6), 'an IPv4 caller never matches an IPv6 network');
  t.notOk(isAddressAllowed('::ffff:10.1.2.3', v6), 'nor does an IPv4-mapped caller');

  const everything6 = parseNetworks(['::/0']);
  t.notOk(isAddressAllowed('10.1.2.3', everything6), '::/0 does not admit IPv4 callers');
  const everything4 = parseNetworks(['0.0.0.0/0']);
  t.notOk(isAddressAllowed('2001:db8::1', everything4), '0.0.0.0/0 does not admit IPv6 callers');
  t.ok(isAddressAllowed('::ffff:10.1.2.3', everything4), '0.0.0.0/0 admits IPv4-mapped callers');

  const mixed = parseNetworks(['10.0.0.0/8', '2001:db8::/32']);
  t.ok(isAddressAllowed('10.0.0.1', mixed));
  t.ok(isAddressAllowed('2001:db8::5', mixed));
  t.notOk(isAddressAllowed('172.16.0.1', mixed));

  t.ok(isAddressAllowed('10.1.2.3', []), 'no networks: any caller');
  t.ok(isAddressAllowed('2001:db8::1', []), 'no networks: any IPv6 caller');

  for (const bad of ['', 'garbage', 'unknown', '10.1.2', '010.1.2.3', '167837955', '10.1.2.3.4', '999.1.1.1', '10.1.2.3/8']) {
    t.notOk(isAddressAllowed(bad, mixed), `garbage caller ${JSON.stringify(bad)} is refused`);
  }
  t.doesNotThrow(() => isAddressAllowed('\u0000', mixed), 'never throws');

  // What normalizeCidr produces is what parseNetworks reads back.
  const normalized = ['192.0.2.7/24', '2001:db8::1/48'].map((cidr) => normalizeCidr(cidr) ?? 'bad');
  const networks = parseNetworks(normalized);
  t.ok(isAddressAllowed('192.0.2.200', networks));
  t.ok(isAddressAllowed('2001:db8:0:ffff::1', networks));
  t.notOk(isAddressAllowed('2001:db8:1::1', networks));
});

t.test('generateOpaqueSecret (the form of secrets made before self-identifying ones)', async (t) => {
  const secrets = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const secret = generateOpaqueSecret();
    if (!/^portier_cs_[A-Za-z0-9_-]{43}$/.test(secret)) t.fail(`unexpected secret shape ${secret}`);
    secrets.add(secret);
  }
  t.equal(secrets.size, 1000, 'a thousand secrets are all different');
  const secret = generateOpaqueSecret();
  t.equal(OPAQUE_SECRET_PREFIX, 'portier_cs_');
  t.ok(secret.startsWith('portier_cs_'), 'prefixed for secret scanners');
  const body = secret.slice(OPAQUE_SECRET_PREFIX.length);
  t.equal(body.length, 43, '43 base64url characters (32 bytes)');
  t.match(body, /^[A-Za-z0-9_-]+$/, 'base64url, no padding');
  t.equal(Buffer.from(body, 'base64url').length, 32, 'decodes to 32 random bytes');
});

t.test('hashSecret and verifySecret', async (t) => {
  const secret = generateOpaqueSecret();
  const hash = await hashSecret(secret);
  t.match(hash, /^\$argon2id\$/, 'an argon2id PHC string');
  t.notOk(hash.includes(secret), 'the hash does not contain the secret');
  t.equal(await verifySecret(hash, secret), true, 'the right secret verifies');
  t.equal(await verifySecret(hash, `${secret}x`), false, 'a longer secret does not');
  t.equal(await verifySecret(hash, secret.slice(0, -1)), false, 'a shorter secret does not');
  t.equal(await verifySecret(hash, generateOpaqueSecret()), false, 'another secret does not');
  t.equal(await verifySecret(hash, ''), false, 'the empty secret does not');

  const again = await hashSecret(secret);
  t.not(again, hash, 'salted: the same secret hashes differently each time');
  t.equal(await verifySecret(again, secret), true);

  const awkward = 'p@ss word:with%25+plus&=/?#"\'\\ é ✓';
  t.equal(await verifySecret(await hashSecret(awkward), awkward), true, 'any characters round-trip');

  for (const malformed of [
    '',
    'not a hash',
    '$argon2id$',
    '$argon2id$v=19$m=19456,t=2,p=1$garbage',
    hash.slice(0, -5),
    `${hash}!!!`,
    '$2b$10$abcdefghijklmnopqrstuv',
  ]) {
    let result: boolean | undefined;
    await t.resolves(
      async () => {
        result = await verifySecret(malformed, secret);
      },
      `malformed stored hash ${JSON.stringify(malformed.slice(0, 30))} does not throw`,
    );
    t.equal(result, false, 'and does not verify');
  }
});

t.test('encryptAtRest and decryptAtRest', async (t) => {
  const key = randomBytes(32);
  const plaintext = JSON.stringify({ kty: 'EC', crv: 'P-256', d: 'secret-part', x: 'x', y: 'y' });
  const envelope = encryptAtRest(key, plaintext);
  t.match(envelope, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'v1.<iv>.<tag>.<ciphertext>');
  t.notOk(envelope.includes('secret-part'), 'the plaintext is not visible');
  t.notOk(envelope.includes('"d"'), 'no JSON member names either');
  t.equal(decryptAtRest(key, envelope), plaintext, 'round trip');
  t.not(encryptAtRest(key, plaintext), envelope, 'a fresh IV each time');
  t.equal(decryptAtRest(key, encryptAtRest(key, '')), '', 'the empty string round-trips');
  const unicode = 'clé ✓ 🔑';
  t.equal(decryptAtRest(key, encryptAtRest(key, unicode)), unicode, 'UTF-8 round-trips');

  const [version, iv, tag, ciphertext] = envelope.split('.') as [string, string, string, string];
  const flip = (part: string) => {
    const bytes = Buffer.from(part, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    return bytes.toString('base64url');
  };
  t.throws(() => decryptAtRest(key, [version, iv, tag, flip(ciphertext)].join('.')), 'a changed ciphertext is detected');
  t.throws(() => decryptAtRest(key, [version, iv, flip(tag), ciphertext].join('.')), 'a changed tag is detected');
  t.throws(() => decryptAtRest(key, [version, flip(iv), tag, ciphertext].join('.')), 'a changed IV is detected');
  t.throws(() => decryptAtRest(key, [version, iv, tag, ciphertext.slice(0, -2)].join('.')), 'a truncated ciphertext is detected');
  t.throws(() => decryptAtRest(key, [version, iv, '', ciphertext].join('.')), 'a missing tag is refused');
  t.throws(() => decryptAtRest(key, ['v2', iv, tag, ciphertext].join('.')), 'an unknown version is refused');
  t.throws(() => decryptAtRest(key, plaintext), 'plaintext is not an envelope');
  t.throws(() => decryptAtRest(key, 'v1.abc'), 'an incomplete envelope is refused');

  t.throws(() => decryptAtRest(randomBytes(32), envelope), 'a wrong key throws');
  const nearlyKey = Buffer.from(key);
  nearlyKey[31] = (nearlyKey[31] ?? 0) ^ 0x80;
  t.throws(() => decryptAtRest(nearlyKey, envelope), 'a key one bit off throws');
});

t.test('an IPv4-mapped IPv6 range is stored as the IPv4 range it means', async (t) => {
  const { normalizeCidr, isAddressAllowed, parseNetworks } = await import('../../src/lib/networks.js');
  t.equal(normalizeCidr('::ffff:10.1.2.3/104'), '10.0.0.0/8');
  t.equal(normalizeCidr('::ffff:192.0.2.7'), '192.0.2.7/32');
  const networks = parseNetworks([normalizeCidr('::ffff:10.0.0.0/104') ?? '']);
  t.ok(isAddressAllowed('10.9.8.7', networks));
  t.ok(isAddressAllowed('::ffff:10.9.8.7', networks));
  t.notOk(isAddressAllowed('11.0.0.1', networks));
});
