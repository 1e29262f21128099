import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { ClientDirectory } from '../clients/directory.js';
import type { ClientRecord } from '../clients/record.js';
import { clientStatus } from '../clients/rules.js';
import type { KeyCache } from '../keys/cache.js';
import type { Clock } from '../lib/clock.js';
import type { RevocationList } from './revocations.js';

/** What checking an access token needs: this server's issuer, keys, clients and revocations. */
export interface AccessTokenContext {
  issuer: string;
  clock: Clock;
  keys: KeyCache;
  directory: ClientDirectory;
  revocations: RevocationList;
}

export type AccessTokenCheck =
  | { active: true; claims: JWTPayload; client: ClientRecord }
  /** `reason` says why, for the admin API's 401 and the logs; introspection only says `active: false`. */
  | { active: false; reason: string };

/**
 * Is `token` an access token this server issued that is still in force? The one check
 * behind both the admin API's bearer tokens and introspection: signature by a published
 * key, this issuer, `typ: at+jwt`, not expired (and for `audience`, meant for it), its
 * client still there (the same one: `sub` is the client's UUID, never reused), active,
 * and the token not revoked. Clients and revocations come from caches that every change
 * invalidates, so a disable or a revocation is in force at once.
 */
export async function checkAccessToken(ctx: AccessTokenContext, token: string, audience?: string): Promise<AccessTokenCheck> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, (await ctx.keys.get()).verificationKeys, {
      issuer: ctx.issuer,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'client_id', 'jti', 'exp'],
      currentDate: new Date(ctx.clock()),
      ...(audience !== undefined && { audience }),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return { active: false, reason: 'the access token is invalid or expired' };
    throw error;
  }
  const client = await ctx.directory.find(String(claims.client_id));
  if (client === undefined || client.uuid !== claims.sub) return { active: false, reason: 'the client of this token no longer exists' };
  if (clientStatus(client, ctx.clock()) !== 'active') return { active: false, reason: 'the client of this token is disabled or expired' };
  if (await ctx.revocations.isRevoked(String(claims.jti))) return { active: false, reason: 'the access token has been revoked' };
  return { active: true, claims, client };
}
