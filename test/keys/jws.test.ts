import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import t from 'tap';
import { SIGNING_ALGS } from '../../src/config.js';
import { CompactSigner } from '../../src/keys/jws.js';

// The token signer is written with node:crypto (on libuv's thread pool): every
// algorithm it signs with must verify with a maintained library no one here wrote.

for (const alg of SIGNING_ALGS) {
  t.test(`${alg}: tokens verify with jose`, async (t) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const key = createPrivateKey({ key: (await exportJWK(privateKey)) as JsonWebKey, format: 'jwk' });
    const signer = new CompactSigner(alg, 'kid-1', key);
    const claims = {
      iss: 'https://portier.test',
      sub: 'abc',
      aud: ['https://a.example', 'https://b.example'],
      scope: 'a b',
      name: 'Ünïcode ✓',
      exp: Math.floor(Date.now() / 1000) + 60,
    };
    const token = await signer.sign(claims);
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, { typ: 'at+jwt', algorithms: [alg] });
    t.same(protectedHeader, { alg, kid: 'kid-1', typ: 'at+jwt' });
    t.same(payload, claims);
    t.same(decodeProtectedHeader(await signer.sign({ x: 1 })), { alg, kid: 'kid-1', typ: 'at+jwt' });
    const tampered = `${token.slice(0, token.lastIndexOf('.') - 2)}AA${token.slice(token.lastIndexOf('.'))}`;
    await t.rejects(jwtVerify(tampered, publicKey), 'a tampered token does not verify');
  });
}
