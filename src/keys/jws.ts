import { constants, type KeyObject, sign } from 'node:crypto';
import type { SigningAlg } from '../config.js';

/** How node:crypto signs for each JWS algorithm Portier issues tokens with (RFC 7518 §3, RFC 8037). */
const SIGNING: Record<
  SigningAlg,
  { digest: string | null; options: { dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number } }
> = {
  // JWS wants the raw r || s, not DER.
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, options: {} },
  // RFC 9864: the same Ed25519 signature, under its fully-specified name.
  Ed25519: { digest: null, options: {} },
  RS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
};

/**
 * A JWS compact serialisation signer for one key, as the token endpoint uses it: the
 * protected header is encoded once, and each token costs one JSON encoding and one
 * node:crypto signature on libuv's thread pool. On the pool, signatures run on every core
 * while the event loop goes on with other requests; signed on the event loop, the token
 * endpoint could use one core only (measured: about 5,500 against 9,000 tokens/s with
 * ES256 on two cores; see bench/README.md). argon2id does not run on that pool
 * (see protection/argon2-pool.ts), so a flood of wrong secrets never makes signing wait.
 */
export class CompactSigner {
  private readonly encodedHeader: string;
  private readonly how: (typeof SIGNING)[SigningAlg];

  constructor(
    readonly alg: SigningAlg,
    readonly kid: string,
    private readonly privateKey: KeyObject,
    typ = 'at+jwt',
  ) {
    this.encodedHeader = Buffer.from(JSON.stringify({ alg, kid, typ })).toString('base64url');
    this.how = SIGNING[alg];
  }

  sign(claims: Record<string, unknown>): Promise<string> {
    const signingInput = `${this.encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return new Promise((resolve, reject) => {
      sign(this.how.digest, Buffer.from(signingInput), { key: this.privateKey, ...this.how.options }, (error, signature) => {
        if (error) reject(error);
        else resolve(`${signingInput}.${signature.toString('base64url')}`);
      });
    });
  }
}
