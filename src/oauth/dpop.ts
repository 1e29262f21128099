import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from 'jose';
import type { ClientRecord } from '../clients/record.js';
import type { Db } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import { constantTimeEqual, hmacSha256 } from '../lib/crypto.js';
import { PRIVATE_JWK_MEMBERS } from '../schemas/clients.js';
import { claimJwtId, isStorableJwtId, MAX_JWT_ID_LENGTH } from './client-auth/jwt-ids.js';
import { InvalidDpopProof, InvalidRequest, UseDpopNonce } from './errors.js';

/**
 * DPoP (RFC 9449) at the token endpoint: the rules a proof must meet, and what binds the
 * access token to the proof's key. Discovery publishes the same list of algorithms.
 * `Ed25519` (RFC 9864) is what oauth4webapi and openid-client sign with an Ed25519 key.
 */
export const DPOP_SIGNING_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/**
 * How old a proof's `iat` may be. RFC 9449 §11.1 asks for a short window: a proof is sent
 * right after it is made, and its `jti` must be remembered (in the shared replay store)
 * for as long as the proof is accepted.
 */
export const DPOP_PROOF_MAX_AGE_SECONDS = 60;
/** How far ahead of our clock a proof's `iat` may be: the client's clock may run a little fast. */
export const DPOP_PROOF_MAX_FUTURE_SECONDS = 5;
/**
 * Nonces (RFC 9449 §8) change every window; a nonce of the current or the previous window
 * is accepted, so a nonce is good for one to two windows.
 */
export const DPOP_NONCE_WINDOW_MS = 5 * 60_000;

/** Longer than any proof with an RSA-4096 key; anything longer is refused unread. */
const MAX_PROOF_LENGTH = 8 * 1024;

/** What checking proofs needs. `nonces` is set when DPOP_NONCE=true. */
export interface DpopContext {
  db: Db;
  clock: Clock;
  /** The token endpoint's URLs (ISSUER's, and MTLS_BASE_URL's alias): what `htu` must name. */
  tokenEndpoints: readonly string[];
  nonces: DpopNonces | undefined;
}

/** The key an access token is bound to, and the nonce to hand the client for its next proof. */
export interface DpopBinding {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: the token's `cnf.jkt`. */
  jkt: string;
  nonce: string | undefined;
}

/**
 * Server nonces that every instance makes and accepts alike without talking to the
 * others: an HMAC of the time window under a key shared through the database (see
 * loadDpopNonceKey).
 */
export class DpopNonces {
  constructor(private readonly key: Buffer) {}

  current(now: number): string {
    return this.forWindow(Math.floor(now / DPOP_NONCE_WINDOW_MS));
  }

  accepts(nonce: string, now: number): boolean {
    const window = Math.floor(now / DPOP_NONCE_WINDOW_MS);
    const presented = Buffer.from(nonce);
    return [window, window - 1].some((w) => constantTimeEqual(Buffer.from(this.forWindow(w)), presented));
  }

  private forWindow(window: number): string {
    return hmacSha256(this.key, `dpop-nonce:${window}`).toString('base64url');
  }
}

/**
 * The DPoP binding of a token request, after the client has authenticated (so a proof's
 * failure tells nothing about the secret). No proof and a client that does not need one:
 * undefined, at no cost. A `dpop_bound` client must send a proof.
 */
export async function dpopBinding(
  ctx: DpopContext,
  client: ClientRecord,
  header: string | string[] | undefined,
): Promise<DpopBinding | undefined> {
  if (header === undefined) {
    // RFC 9449 §5.2 says to reject such a request but names no code; the proof is not
    // invalid, it is missing, which RFC 6749 §5.2 calls invalid_request.
    if (client.dpopBound) throw new InvalidRequest('this client must send a DPoP proof (RFC 9449) with every token request');
    return undefined;
  }
  return checkDpopProof(ctx, readDpopHeader(header));
}

/**
 * RFC 9449 §4.3 step 1: exactly one DPoP header. Node joins repeated headers it does not
 * know with ", ", and a JWT never contains a comma.
 */
function readDpopHeader(header: string | string[]): string {
  const proof = Array.isArray(header) ? header.join(', ') : header;
  if (proof.includes(',')) throw new InvalidDpopProof('send exactly one DPoP header');
  return proof.trim();
}

const fail = (description: string): never => {
  throw new InvalidDpopProof(description);
};

/**
 * Checks a DPoP proof for a token request (RFC 9449 §4.3) and records its `jti` as used.
 * The replay check comes last, so a proof refused for another reason does not use up its id.
 * Every refusal is invalid_dpop_proof with a fixed description: the proof is never echoed.
 */
export async function checkDpopProof(ctx: DpopContext, proof: string): Promise<DpopBinding> {
  if (proof.length > MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    fail('the DPoP header is not a signed JWT');
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return fail('the DPoP header is not a signed JWT');
  }
  if (header.typ !== 'dpop+jwt') fail('the DPoP proof must have typ "dpop+jwt"');
  const alg = DPOP_SIGNING_ALGS.find((allowed) => allowed === header.alg);
  if (alg === undefined) return fail(`the DPoP proof must be signed with one of ${DPOP_SIGNING_ALGS.join(', ')}`);
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('the DPoP proof must carry its public key in jwk');
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) fail('the jwk of the DPoP proof must be a public key: it has private members');

  let payload: Uint8Array;
  try {
    // Any failure here is the proof's: an unusable key, one that does not fit alg (or an
    // RSA key under 2048 bits, which jose refuses with a TypeError), a bad signature.
    const key = await importJWK(jwk, alg);
    ({ payload } = await compactVerify(proof, key, { algorithms: [alg] }));
  } catch {
    return fail('the DPoP proof signature does not verify with its jwk');
  }
  const claims = parseClaims(payload);

  if (claims.htm !== 'POST') fail('the DPoP proof htm must be POST');
  checkHtu(claims.htu, ctx.tokenEndpoints);
  const now = ctx.clock();
  const iat = claims.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return fail('the DPoP proof must have a numeric iat');
  if (iat < now / 1000 - DPOP_PROOF_MAX_AGE_SECONDS) fail('the DPoP proof is too old (iat)');
  if (iat > now / 1000 + DPOP_PROOF_MAX_FUTURE_SECONDS) fail('the DPoP proof is issued in the future (iat)');
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti === '') return fail('the DPoP proof must have a jti');
  if (!isStorableJwtId(jti)) return fail(`the DPoP proof jti must be at most ${MAX_JWT_ID_LENGTH} characters, without control characters`);
  // §5: a proof to the token endpoint covers no access token yet.
  if ('ath' in claims) fail('the DPoP proof to the token endpoint must not have ath');

  const nonces = ctx.nonces;
  if (nonces !== undefined) {
    const nonce = claims.nonce;
    if (typeof nonce !== 'string') throw new UseDpopNonce(nonces.current(now), 'DPoP proof without a nonce');
    if (!nonces.accepts(nonce, now)) throw new UseDpopNonce(nonces.current(now), 'DPoP proof with a stale or unknown nonce');
  }

  const jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
  // Remembered as long as the proof would pass the iat check, on every instance.
  const expiresAt = new Date((iat + DPOP_PROOF_MAX_AGE_SECONDS + 1) * 1000);
  if (!(await claimJwtId(ctx.db, `dpop:${jkt}`, jti, expiresAt, new Date(now)))) {
    fail('the DPoP proof has been used before (jti)');
  }
  return { jkt, nonce: nonces?.current(now) };
}

function parseClaims(payload: Uint8Array): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return fail('the DPoP proof payload is not a JSON object');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return fail('the DPoP proof payload is not a JSON object');
  return claims as Record<string, unknown>;
}

/**
 * `htu` names this endpoint, by one of its URLs: compared after RFC 3986 normalisation
 * (scheme and host case, default port, as the URL parser does them). RFC 9449 §4.2 says htu
 * is sent "without query and fragment parts", so one with either is refused rather than
 * trimmed.
 */
function checkHtu(htu: unknown, endpoints: readonly string[]): void {
  if (typeof htu !== 'string') throw new InvalidDpopProof('the DPoP proof must have htu');
  if (/[?#]/.test(htu)) fail('the DPoP proof htu must not have a query or fragment');
  let url: URL;
  try {
    url = new URL(htu);
  } catch {
    throw new InvalidDpopProof('the DPoP proof htu is not a URL');
  }
  if (url.username !== '' || url.password !== '') fail('the DPoP proof htu must not have a user or password');
  const names = (endpoint: string) => {
    const expected = new URL(endpoint);
    return url.origin === expected.origin && url.pathname === expected.pathname;
  };
  if (!endpoints.some(names)) fail(`the DPoP proof htu must be ${endpoints.join(' or ')}`);
}
