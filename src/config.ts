/**
 * Portier's whole configuration, read once from the environment at start-up. The variables
 * are declared in config/variables.ts (one entry each: name, meaning, default, bounds);
 * this file derives from that table the Config type, loadConfig, and the list of variables.
 * The names and defaults are part of the public contract, documented in the table of
 * docs/configuration.md, which `npm run docs:config` generates from the declarations (a
 * test fails while the committed table is stale).
 */
import { type Env, Setting, type Variable } from './config/kinds.js';
import { SETTINGS } from './config/variables.js';

export { ConfigError } from './config/kinds.js';
export type { ConsoleConfig, OidcConfig } from './config/people.js';
export type { TokenHookConfig, TokenQuotaDefaults } from './config/policy.js';
export { MAX_ACCESS_TOKEN_TTL, SIGNING_ALGS, type SigningAlg } from './config/variables.js';

/** A table of settings, or of groups of them (such as `protection`). */
type Table = { readonly [key: string]: Setting<unknown> | Table };

/** The values of a table: each setting replaced by what it reads. */
type ValuesOf<T> = { -readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : ValuesOf<T[K]> };

/** What loadConfig returns: the shape of the table in config/variables.ts, with each entry's value. */
export interface Config extends ValuesOf<typeof SETTINGS> {}
/** The limits that keep the server up under attack: see protection/ and docs/security.md ("Abuse resistance"). */
export interface ProtectionConfig extends ValuesOf<typeof SETTINGS.protection> {}
/** How a private_key_jwt client's jwks_uri is fetched (see oauth/client-auth/remote-jwks.ts). */
export interface JwksUriConfig extends ValuesOf<typeof SETTINGS.jwksUri> {}

/** Reads and validates the environment, entry by entry in the table's order. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  // ValuesOf<typeof SETTINGS> is what valuesOf builds from SETTINGS; TypeScript cannot follow the recursion.
  return valuesOf(SETTINGS, env) as Config;
}

function valuesOf(table: Table, env: Env): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    values[key] = entry instanceof Setting ? entry.read(env) : valuesOf(entry, env);
  }
  return values;
}

function variablesOf(table: Table): Variable[] {
  return Object.values(table).flatMap((entry) => (entry instanceof Setting ? entry.variables : variablesOf(entry)));
}

/** Every environment variable Portier reads, as docs/configuration.md's table documents it (generated from these). */
export const VARIABLES: readonly Variable[] = variablesOf(SETTINGS);

/** The names of every environment variable Portier reads. */
export const CONFIG_VARIABLES: readonly string[] = VARIABLES.map((variable) => variable.name);

/** DATABASE_POOL_SIZE, DATABASE_CONNECT_TIMEOUT and DATABASE_STATEMENT_TIMEOUT when unset. */
export const DATABASE_DEFAULTS = {
  poolSize: SETTINGS.databasePoolSize.read({}),
  connectTimeout: SETTINGS.databaseConnectTimeout.read({}),
  statementTimeout: SETTINGS.databaseStatementTimeout.read({}),
} as const;
