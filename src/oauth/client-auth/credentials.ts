import { certificateThumbprint } from '../../clients/certificates.js';
import type { PresentedCertificate } from '../../tls/client-certificate.js';
import { InvalidClient, InvalidRequest } from '../errors.js';
import type { TokenParameters } from '../parameters.js';
import { claimedIdentity, isPlatformIssuer } from './client-assertion.js';

export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; clientSecret: string }
  /** RFC 7523 §2.2. clientId: the client_id sent, or else the assertion's (unverified) `iss`. */
  | { method: 'private_key_jwt'; clientId: string; assertion: string; assertionType: string }
  | FederatedCredentials
  | CertificateCredentials;

/**
 * RFC 8705 §2: a TLS client certificate, with no secret or assertion. `clientId` names the
 * client for the failure budgets and the log: the client_id sent, or else the certificate
 * (by its thumbprint).
 */
export interface CertificateCredentials {
  method: 'certificate';
  clientId: string;
  /** The client_id sent, if any: then that client's registration must match. Without it, the one client the certificate matches. */
  requestedClientId: string | undefined;
  presented: PresentedCertificate;
}

/**
 * RFC 7523 §2.2 with the platform's own JWT as the assertion (federated.ts). `clientId`
 * names the client for the failure budgets and the log: the client_id sent, or else the
 * platform identity the assertion claims (its unverified `iss` and `sub`).
 */
export interface FederatedCredentials {
  method: 'federated';
  clientId: string;
  /** The client_id sent, if any: then that client's identities must match. */
  requestedClientId: string | undefined;
  assertion: string;
  assertionType: string;
}

/**
 * RFC 6749 §2.3.1: with HTTP Basic, the client_id and secret are each
 * application/x-www-form-urlencoded before being joined with ':' and base64-encoded.
 * Returns undefined when there is no Authorization header.
 */
export function parseBasicAuthorization(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]*={0,2}) *$/i.exec(header);
  if (match === null) {
    if (/^Basic\b/i.test(header)) throw new InvalidRequest('malformed Basic authorization header: not base64');
    throw new InvalidRequest('unsupported authorization scheme on the token endpoint: use Basic');
  }
  const encoded = match[1] ?? '';
  if (encoded === '') throw new InvalidRequest('malformed Basic authorization header: empty credentials');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequest('malformed Basic authorization header: no ":" between client_id and secret');
  return {
    clientId: formDecode(decoded.slice(0, colon), 'client_id'),
    clientSecret: formDecode(decoded.slice(colon + 1), 'client_secret'),
  };
}

function formDecode(value: string, what: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest(`malformed Basic authorization header: ${what} has an invalid percent-escape`);
  }
}

/**
 * Works out how the client authenticates. Exactly one method per request: Basic and a
 * body secret together are refused (RFC 6749 §2.3), and so is a secret beside an assertion.
 * A client_id in the body alongside Basic is tolerated only when it names the same client.
 *
 * An empty secret is no secret: RFC 6749 §2.3.1 lets a client leave out a client_secret
 * that is the empty string, so one sent empty counts as left out. Beside an assertion, HTTP
 * Basic with an empty password names the client as a client_id would. Libraries send both
 * by default: simple-oauth2 always puts client_secret in the body (empty when it has none),
 * requests-oauthlib puts client_id and an empty password in Basic; with an assertion, either
 * was a second method, so such libraries could not use private_key_jwt or federated clients.
 * A secret that is not empty beside an assertion is still a second method.
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: TokenParameters,
  presented?: PresentedCertificate | undefined,
): ClientCredentials {
  const basic = parseBasicAuthorization(authorization);
  const clientSecret = params.client_secret === '' ? undefined : params.client_secret;
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
    if ((basic !== undefined && basic.clientSecret !== '') || clientSecret !== undefined) {
      throw new InvalidRequest('use exactly one client authentication method: a secret or a client assertion');
    }
    if (params.client_assertion === undefined || params.client_assertion_type === undefined) {
      throw new InvalidRequest('client_assertion and client_assertion_type must be sent together');
    }
    const basicClientId = basic?.clientId === '' ? undefined : basic?.clientId;
    if (basicClientId !== undefined && params.client_id !== undefined && params.client_id !== basicClientId) {
      throw new InvalidRequest('client_id in the body does not match the Authorization header');
    }
    const clientId = params.client_id ?? basicClientId;
    const claimed = claimedIdentity(params.client_assertion);
    if (isPlatformIssuer(claimed.iss)) {
      return {
        method: 'federated',
        clientId: clientId ?? `${claimed.iss} ${claimed.sub}`,
        requestedClientId: clientId,
        assertion: params.client_assertion,
        assertionType: params.client_assertion_type,
      };
    }
    // A client_id that does not match the assertion is refused by the assertion check
    // (iss and sub must be the client_id), as a failed authentication of that client_id.
    return {
      method: 'private_key_jwt',
      clientId: clientId ?? claimed.iss,
      assertion: params.client_assertion,
      assertionType: params.client_assertion_type,
    };
  }
  // A certificate and no secret (RFC 8705 §2): the client_id in the body, or in Basic with
  // an empty password as some libraries send it, or none at all.
  if (presented !== undefined && clientSecret === undefined && (basic === undefined || basic.clientSecret === '')) {
    if (basic !== undefined && params.client_id !== undefined && params.client_id !== basic.clientId) {
      throw new InvalidRequest('client_id in the body does not match the Authorization header');
    }
    const requestedClientId = params.client_id ?? (basic?.clientId === '' ? undefined : basic?.clientId);
    return {
      method: 'certificate',
      clientId: requestedClientId ?? `certificate ${certificateThumbprint(presented.certificate)}`,
      requestedClientId,
      presented,
    };
  }
  if (basic !== undefined) {
    if (clientSecret !== undefined) {
      throw new InvalidRequest('use exactly one client authentication method: HTTP Basic or client_secret in the body');
    }
    if (params.client_id !== undefined && params.client_id !== basic.clientId) {
      throw new InvalidRequest('client_id in the body does not match the Authorization header');
    }
    return { method: 'client_secret_basic', ...basic };
  }
  if (params.client_id === undefined) throw new InvalidClient('no client authentication');
  if (clientSecret === undefined) throw new InvalidClient('client_id without client_secret');
  return { method: 'client_secret_post', clientId: params.client_id, clientSecret };
}
