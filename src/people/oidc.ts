import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { Outbound } from '../lib/outbound.js';
import { LOGIN_TTL_MS, type PendingLogin } from './cookies.js';
import { fetchThrough, MAX_PROVIDER_ANSWER_BYTES } from './provider-fetch.js';
import type { Claims } from './roles.js';

/** The provider could not be reached, or its discovery document is not usable. */
export class ProviderUnavailable extends Error {
  override readonly name = 'ProviderUnavailable';
}

/**
 * The provider's answer to a sign-in did not hold: an error it returned, a code it would
 * not exchange, an ID token of another issuer or audience, with a bad signature or nonce.
 * The message is for the log; the person is told only that the sign-in failed.
 */
export class ProviderAnswerRefused extends Error {
  override readonly name = 'ProviderAnswerRefused';
}

/** The provider declined to sign the person in (an `error` in its answer, such as access_denied). */
export class ProviderDeclined extends Error {
  override readonly name = 'ProviderDeclined';
}

/** How long a provider that failed is taken as unavailable before it is asked again. */
const UNAVAILABLE_FOR_MS = 10_000;
/**
 * How long a provider that answered is taken as available: a sign-in page or a sign-in
 * start after that asks it again first, so a provider that has stopped is noticed within
 * this, not after a browser has been sent to it.
 */
const AVAILABLE_FOR_MS = 15_000;
/** How often the discovery document is read again in the background, once sign-in has been used. */
const REFRESH_DISCOVERY_MS = 5 * 60_000;
/** The longest the sign-in page's question "can one sign in?" waits on the provider. */
const AVAILABILITY_WAIT_MS = 2_000;
/** The longest a sign-in start waits on the provider before sending the browser there. */
const SIGN_IN_START_WAIT_MS = 3_000;
/** Seconds every request to the provider may take. */
const REQUEST_TIMEOUT_SECONDS = 10;

/** What this instance last learnt of the provider. */
type Health =
  | { available: true; configuration: client.Configuration; at: number }
  | { available: false; error: ProviderUnavailable; at: number };

/**
 * Portier as a confidential client of the organisation's OpenID Connect provider, through
 * openid-client: the authorization code flow with PKCE (S256), `state` and `nonce`,
 * client_secret_basic at the token endpoint, the ID token's signature verified against
 * the provider's JWKS (besides its issuer, audience, expiry and nonce), and the claims of
 * the ID token completed by the userinfo endpoint.
 *
 * Nothing waits for discovery (the app starts it when ready, and logs a failure): a
 * provider that is down stops nobody but the people signing in (tokens, Bearer admin and
 * the CLI never need it). After that:
 * - the discovery document is read again every REFRESH_DISCOVERY_MS in the background;
 * - what was learnt last is trusted for a while (AVAILABLE_FOR_MS after an answer,
 *   UNAVAILABLE_FOR_MS after a failure), so a provider that is down is not asked at every
 *   page view, and one that has stopped is noticed before a browser is sent to it;
 * - the sign-in page never waits on the provider more than AVAILABILITY_WAIT_MS: a
 *   provider slower than that is shown as unavailable while the check goes on.
 */
export class IdentityProvider {
  private health: Health | undefined;
  /** The discovery under way; callers join it. */
  private checking: Promise<Health> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /**
   * Every request to the provider (discovery, its keys, the token and userinfo endpoints):
   * its own CA when OIDC_CA_FILE is set, a size cap, kept-alive connections. The provider
   * is the operator's choice, often inside their network: no private-address fence.
   */
  private readonly outbound: Outbound;

  constructor(
    private readonly settings: OidcConfig,
    /** `<ISSUER>/console/auth/callback`. */
    private readonly redirectUri: string,
    private readonly clock: Clock,
  ) {
    this.outbound = new Outbound({
      label: 'identity provider',
      allowPrivate: true,
      httpsOnly: false,
      ca: settings.ca?.pem,
      timeoutMs: REQUEST_TIMEOUT_SECONDS * 1000,
      maxResponseBytes: MAX_PROVIDER_ANSWER_BYTES,
    });
  }

  /** The provider's configuration, asking the provider first when what is known is stale; or ProviderUnavailable. */
  async configuration(waitMs = REQUEST_TIMEOUT_SECONDS * 1000): Promise<client.Configuration> {
    const health = await this.current(waitMs);
    if (health === undefined) throw new ProviderUnavailable(`${this.settings.issuer} did not answer within ${waitMs} ms`);
    if (!health.available) throw health.error;
    return health.configuration;
  }

  /** Whether one can sign in through the provider now; answers within about AVAILABILITY_WAIT_MS. */
  async reachable(): Promise<boolean> {
    return (await this.current(AVAILABILITY_WAIT_MS))?.available === true;
  }

  /** Stops the background refresh (at shutdown). */
  async close(): Promise<void> {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    await this.outbound.close();
  }

  /**
   * What is known of the provider, asked again first when it is stale; undefined when the
   * provider has not answered within `waitMs` (the check goes on, for the next caller).
   */
  private async current(waitMs: number): Promise<Health | undefined> {
    const known = this.health;
    const now = this.clock();
    if (known !== undefined && now - known.at < (known.available ? AVAILABLE_FOR_MS : UNAVAILABLE_FOR_MS)) return known;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
    });
    try {
      return await Promise.race([this.check(), waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `error`, after taking the provider as unavailable for a while when it is one of not reaching it. */
  private noting(error: Error): Error {
    if (error instanceof ProviderUnavailable) this.health = { available: false, error, at: this.clock() };
    return error;
  }

  /** Reads the discovery document now (or joins the reading under way), and records what it found. */
  private check(): Promise<Health> {
    this.checking ??= this.discover().then(
      (configuration): Health => ({ available: true, configuration, at: this.clock() }),
      (error: unknown): Health => ({
        available: false,
        error: error instanceof ProviderUnavailable ? error : new ProviderUnavailable(String(error)),
        at: this.clock(),
      }),
    );
    const checking = this.checking;
    void checking.then((health) => {
      this.health = health;
      if (this.checking === checking) this.checking = undefined;
      this.refreshTimer ??= setInterval(() => void this.check(), REFRESH_DISCOVERY_MS).unref();
    });
    return checking;
  }

  /** Where to send the browser to sign in, and what the callback must find again (the login cookie). */
  async begin(): Promise<{ url: string; login: PendingLogin }> {
    const config = await this.configuration(SIGN_IN_START_WAIT_MS);
    const login: PendingLogin = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      expiresAt: this.clock() + LOGIN_TTL_MS,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes.join(' '),
      response_type: 'code',
      state: login.state,
      nonce: login.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, login };
  }

  /**
   * Finishes a sign-in from the callback's query string: exchanges the code (with the
   * PKCE verifier), verifies the ID token, and reads userinfo. The claims are the ID
   * token's, completed by userinfo's (whose `sub` must be the ID token's); the ID token
   * itself is kept for RP-initiated logout.
   */
  async finish(callbackQuery: string, login: PendingLogin): Promise<{ claims: Claims; idToken: string }> {
    const config = await this.configuration();
    const current = new URL(`${this.redirectUri}?${callbackQuery}`);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw this.noting(refusalOf(error, 'the sign-in'));
    }
    const idTokenClaims = tokens.claims();
    if (idTokenClaims === undefined || tokens.id_token === undefined) throw new ProviderAnswerRefused('the provider returned no ID token');
    let userinfo: Claims = {};
    if (config.serverMetadata().userinfo_endpoint !== undefined) {
      try {
        userinfo = await client.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub);
      } catch (error) {
        throw this.noting(refusalOf(error, 'userinfo'));
      }
    }
    // The ID token's word wins where both speak: it is the signed one.
    return { claims: { ...userinfo, ...idTokenClaims }, idToken: tokens.id_token };
  }

  /**
   * Where sign-out continues when the provider has an end_session_endpoint (OpenID
   * Connect RP-Initiated Logout 1.0), to come back to `postLogoutRedirectUri`; undefined
   * when it has none or cannot be reached now (the session here is ended either way).
   */
  async endSessionUrl(idToken: string | null, postLogoutRedirectUri: string): Promise<string | undefined> {
    let config: client.Configuration;
    try {
      config = await this.configuration(AVAILABILITY_WAIT_MS);
    } catch {
      return undefined;
    }
    if (config.serverMetadata().end_session_endpoint === undefined) return undefined;
    return client.buildEndSessionUrl(config, {
      client_id: this.settings.clientId,
      post_logout_redirect_uri: postLogoutRedirectUri,
      ...(idToken !== null && { id_token_hint: idToken }),
    }).href;
  }

  private async discover(): Promise<client.Configuration> {
    const { settings } = this;
    const insecure = new URL(settings.issuer).protocol === 'http:';
    try {
      const config = await client.discovery(
        new URL(settings.issuer),
        settings.clientId,
        { client_secret: settings.clientSecret },
        client.ClientSecretBasic(settings.clientSecret),
        {
          timeout: REQUEST_TIMEOUT_SECONDS,
          execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
          [client.customFetch]: fetchThrough(this.outbound),
        },
      );
      if (config.serverMetadata().jwks_uri === undefined) {
        throw new ProviderUnavailable('the provider publishes no jwks_uri: its ID tokens could not be verified');
      }
      return config;
    } catch (error) {
      if (error instanceof ProviderUnavailable) throw error;
      throw new ProviderUnavailable(`OpenID Connect discovery of ${settings.issuer} failed: ${describe(error)}`);
    }
  }
}

/** An error of openid-client during a sign-in, as ProviderUnavailable (no answer) or ProviderAnswerRefused. */
function refusalOf(error: unknown, step: string): Error {
  if (error instanceof client.AuthorizationResponseError) {
    return new ProviderDeclined(
      `${step}: the provider answered ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`,
    );
  }
  if (error instanceof client.ResponseBodyError) {
    return new ProviderAnswerRefused(`${step}: the provider answered HTTP ${error.status} ${error.error}`);
  }
  if (error instanceof client.ClientError && error.code !== 'OAUTH_TIMEOUT' && error.code !== 'OAUTH_ABORT') {
    return new ProviderAnswerRefused(`${step}: ${describe(error)}`);
  }
  return new ProviderUnavailable(`${step}: the provider could not be reached: ${describe(error)}`);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${typeof code === 'string' ? `${code} ` : ''}${error.message}${cause}`.slice(0, 300);
}
