/**
 * The patterns and limits the admin API's shapes are built from, apart from TypeBox so
 * that the configuration can use them without loading it (a bad value then stops the
 * start before the rest of Portier is read).
 */

/** 3–64 of [a-z0-9._-], starting with a letter or digit. */
export const CLIENT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{2,63}$/;
/** A service id: like a client_id, 2–64 characters. */
export const SERVICE_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/;

/** The largest page any list returns. */
export const MAX_PAGE_SIZE = 200;
/** The longest grace period a regenerated secret can give the previous one: 7 days. */
export const MAX_PREVIOUS_SECRET_VALIDITY = 7 * 24 * 3600;

/** A trusted issuer's id: 3–64 of [a-z0-9._-]. */
export const TRUSTED_ISSUER_ID_PATTERN = /^[a-z0-9._-]{3,64}$/;
/** A trusted issuer's max_token_age, in seconds: one minute to one day. */
export const MAX_TOKEN_AGE_BOUNDS = { min: 60, max: 86_400, default: 3600 } as const;
/**
 * How long resource servers may cache the JWKS: the max-age of its Cache-Control. A next
 * signing key is published at least this long before it signs (keys/publication.ts), so
 * it is also the shortest publication lead the configuration and the admin API accept.
 */
export const JWKS_MAX_AGE_SECONDS = 300;
/**
 * The default publication lead (KEY_PUBLICATION_LEAD): the max-age, plus a minute for
 * other instances to see a new key (they poll the cache generation every 250 ms) and for
 * verifiers' clocks that differ from ours.
 */
export const DEFAULT_KEY_PUBLICATION_LEAD = JWKS_MAX_AGE_SECONDS + 60;
/** The longest a next key may be published before it signs: 30 days. */
export const MAX_KEY_PUBLICATION_LEAD = 30 * 86_400;
/**
 * The range of a token's lifetime in seconds, for ACCESS_TOKEN_TTL and for the
 * `access_token_ttl` of clients and services: one minute to one day. Longer-lived bearer
 * tokens are a liability, and signing keys stay published for MAX_TOKEN_TTL after they
 * retire (keys/settings.ts), so no token may outlive that.
 */
export const MIN_TOKEN_TTL = 60;
export const MAX_TOKEN_TTL = 86_400;

/** The largest token quota (per hour or per day) a variable or a client may set: beyond it, a quota means nothing. */
export const MAX_QUOTA = 1_000_000_000;

/** What the usage of a client shows (GET /admin/clients/{id}/usage): the last 48 hours, or the last 90 days. */
export const USAGE_HOURS = 48;
export const USAGE_DAYS = 90;
