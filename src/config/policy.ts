/**
 * The variables of the token policy: the issuance hook (TOKEN_HOOK_*) and the default token
 * quota (TOKEN_QUOTA_*), their declarations for the configuration table (config/variables.ts)
 * and how each group is read. The hook's variables are read together: each means nothing
 * without TOKEN_HOOK_URL, and the URL nothing without its secret.
 */
import { HOOK_FAILURE_MODES, type HookFailureMode, QUOTA_MODES, type QuotaMode } from '../schemas/enums.js';
import { MAX_QUOTA } from '../schemas/limits.js';
import { BadValue, ConfigError, choice, custom, type Env, integer, nonEmpty, Setting, unset } from './kinds.js';

/** The issuance hook (see docs/token-policy.md). */
export interface TokenHookConfig {
  /** TOKEN_HOOK_URL: https, or http to a loopback address. */
  url: string;
  /** TOKEN_HOOK_SECRET: the HMAC-SHA256 key of the Portier-Signature header. */
  secret: string;
  /** TOKEN_HOOK_TIMEOUT: milliseconds the whole call may take. */
  timeoutMs: number;
  /** TOKEN_HOOK_ON_FAILURE: what a failed call means for the token. */
  onFailure: HookFailureMode;
}

/** The default token quota: undefined limits mean none. */
export interface TokenQuotaDefaults {
  perHour: number | undefined;
  perDay: number | undefined;
  mode: QuotaMode;
}

/** Host names that are the loopback by definition: the only ones a hook may be reached at over plain http. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadValue(`is not a valid URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new BadValue('must be an https:// URL (http:// only to a loopback address: 127.0.0.0/8, ::1, localhost)');
  }
  // Credentials in the URL would end up wherever the URL is shown; the hook authenticates
  // Portier by the signature instead.
  if (url.username !== '' || url.password !== '') throw new BadValue('must not contain a user name or password');
  if (url.hash !== '') throw new BadValue('must not contain a fragment');
  return url.toString();
}

/** The shortest TOKEN_HOOK_SECRET: an HMAC-SHA256 key should not be guessable. */
const MIN_HOOK_SECRET_LENGTH = 32;

/** The TOKEN_HOOK_* variables, one entry each; `tokenHook` in the table reads them together (readTokenHook). */
export const TOKEN_HOOK = {
  url: custom({
    name: 'TOKEN_HOOK_URL',
    doc: 'the issuance hook, called before each token is signed, which may add claims or deny the token (see [The issuance hook](token-policy.md#the-issuance-hook))',
    values: '`https://…`, or `http://` only to a loopback address (`127.0.0.0/8`, `::1`, `localhost`)',
    default: unset('no hook'),
    parse: hookUrl,
  }),
  secret: new Setting(
    [
      {
        name: 'TOKEN_HOOK_SECRET',
        doc: "the key of the hook's `Portier-Signature` (HMAC-SHA256), taken verbatim; required with `TOKEN_HOOK_URL`",
        values: `at least ${MIN_HOOK_SECRET_LENGTH} characters`,
        documentedDefault: 'unset',
      },
    ],
    // Taken verbatim, like BOOTSTRAP_ADMIN_CLIENT_SECRET: any printable characters.
    (env): string | undefined => (env.TOKEN_HOOK_SECRET === '' ? undefined : env.TOKEN_HOOK_SECRET),
  ),
  timeoutMs: integer({
    name: 'TOKEN_HOOK_TIMEOUT',
    doc: 'milliseconds a call to the hook may take in all',
    default: 500,
    min: 10,
    max: 60_000,
    unit: 'milliseconds',
  }),
  onFailure: choice({
    name: 'TOKEN_HOOK_ON_FAILURE',
    doc: "a hook that times out, fails or answers something else than 2xx JSON: `deny` answers 503 `temporarily_unavailable`; `allow` issues the token without the hook's claims, with a warning in the log",
    default: 'deny',
    choices: HOOK_FAILURE_MODES,
  }),
};

/** TOKEN_HOOK_*: undefined without TOKEN_HOOK_URL (no other TOKEN_HOOK_* may then be set). */
export function readTokenHook(env: Env): TokenHookConfig | undefined {
  const url = TOKEN_HOOK.url.read(env);
  if (url === undefined) {
    // Set alone, they are a mistake (the URL forgotten), not a default.
    for (const name of ['TOKEN_HOOK_SECRET', 'TOKEN_HOOK_TIMEOUT', 'TOKEN_HOOK_ON_FAILURE'] as const) {
      if (nonEmpty(env[name]) !== undefined) throw new ConfigError(name, 'is set, but TOKEN_HOOK_URL is not');
    }
    return undefined;
  }
  const timeoutMs = TOKEN_HOOK.timeoutMs.read(env);
  const onFailure = TOKEN_HOOK.onFailure.read(env);
  const secret = TOKEN_HOOK.secret.read(env);
  if (secret === undefined) throw new ConfigError('TOKEN_HOOK_SECRET', 'must be set when TOKEN_HOOK_URL is');
  if (secret.length < MIN_HOOK_SECRET_LENGTH) {
    throw new ConfigError('TOKEN_HOOK_SECRET', `must be at least ${MIN_HOOK_SECRET_LENGTH} characters, got ${secret.length}`);
  }
  return { url, secret, timeoutMs, onFailure };
}

/** A default quota: a number of tokens per window, or none. */
function quotaLimit(name: string, window: string) {
  return integer({
    name,
    doc: `tokens a client may get per UTC ${window}, unless its \`token_quota\` says otherwise (see [Quotas](token-policy.md#quotas))`,
    default: unset('no quota'),
    min: 1,
    max: MAX_QUOTA,
    unit: 'tokens',
  });
}

/** The TOKEN_QUOTA_* variables: the quota of clients without a token_quota of their own (policy/quota.ts). */
export const TOKEN_QUOTA = {
  perHour: quotaLimit('TOKEN_QUOTA_PER_HOUR', 'hour'),
  perDay: quotaLimit('TOKEN_QUOTA_PER_DAY', 'day'),
  mode: choice({
    name: 'TOKEN_QUOTA_MODE',
    doc: 'what the default quota does beyond its limit: `enforce` (429 `too_many_requests`) or `log` (the token, and one audit event per window)',
    default: 'enforce',
    choices: QUOTA_MODES,
  }),
};
