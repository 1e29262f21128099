import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { LOGIN_TTL_MS, type PendingLogin } from './cookies.js';
import { fetchTrusting } from './provider-fetch.js';
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

/** How long a failed discovery is remembered before the provider is asked again. */
const RETRY_DISCOVERY_MS = 10_000;
/** Seconds every request to the provider may take. */
const REQUEST_TIMEOUT_SECONDS = 10;

/**
 * Portier as a confidential client of the organisation's OpenID Connect provider, through
 * openid-client: the authorization code flow with PKCE (S256), `state` and `nonce`,
 * client_secret_basic at the token endpoint, the ID token's signature verified against
 * the provider's JWKS (besides its issuer, audience, expiry and nonce), and the claims of
 * the ID token completed by the userinfo endpoint.
 *
 * Discovery happens on first use, not at start: a provider that is down stops nobody but
 * the people signing in (tokens, Bearer admin and the CLI never need it). A failure is
 * remembered for a few seconds, so a provider that is down is not asked at every page view.
 */
export class IdentityProvider {
  private discovered: Promise<client.Configuration> | undefined;
  private failedAt: number | undefined;
  private lastFailure: ProviderUnavailable | undefined;

  constructor(
    private readonly settings: OidcConfig,
    /** `<ISSUER>/console/auth/callback`. */
    private readonly redirectUri: string,
    private readonly clock: Clock,
  ) {}

  /** The provider's configuration (discovery), or ProviderUnavailable. */
  configuration(): Promise<client.Configuration> {
    const now = this.clock();
    if (this.discovered === undefined && this.failedAt !== undefined && now - this.failedAt < RETRY_DISCOVERY_MS && this.lastFailure) {
      return Promise.reject(this.lastFailure);
    }
    if (this.discovered === undefined) {
      const loading = this.discover();
      this.discovered = loading;
      loading.catch((error: unknown) => {
        if (this.discovered === loading) this.discovered = undefined;
        this.failedAt = this.clock();
        this.lastFailure = error instanceof ProviderUnavailable ? error : new ProviderUnavailable(String(error));
      });
    }
    return this.discovered;
  }

  /** Whether the provider answers discovery now. */
  async reachable(): Promise<boolean> {
    try {
      await this.configuration();
      return true;
    } catch {
      return false;
    }
  }

  /** Where to send the browser to sign in, and what the callback must find again (the login cookie). */
  async begin(): Promise<{ url: string; login: PendingLogin }> {
    const config = await this.configuration();
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
      throw refusalOf(error, 'the sign-in');
    }
    const idTokenClaims = tokens.claims();
    if (idTokenClaims === undefined || tokens.id_token === undefined) throw new ProviderAnswerRefused('the provider returned no ID token');
    let userinfo: Claims = {};
    if (config.serverMetadata().userinfo_endpoint !== undefined) {
      try {
        userinfo = await client.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub);
      } catch (error) {
        throw refusalOf(error, 'userinfo');
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
      config = await this.configuration();
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
          ...(settings.ca !== undefined && { [client.customFetch]: fetchTrusting(settings.ca.pem) }),
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
