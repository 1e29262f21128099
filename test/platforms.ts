import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { Config } from '../src/config.js';
import type { TestLike } from './helpers.js';
import { selfSignedCertificate } from './pki.js';

/**
 * Platforms that issue workload JWTs, played in the test: each has signing keys made with
 * jose, and publishes them the way the real ones do, over HTTPS on 127.0.0.1 with a
 * certificate made here (trusted through JWKS_URI_CA_FILE's setting): an OpenID discovery
 * document at `<issuer>/.well-known/openid-configuration` naming a `jwks_uri`. The tokens
 * have the shapes of the real ones: a Kubernetes projected service-account token, a GitHub
 * Actions OIDC token, a SPIFFE JWT-SVID.
 */

export const PLATFORM_TLS = selfSignedCertificate('platform issuers');

/** How long a key server may take in the tests before Portier gives up on it (JWKS_URI_TIMEOUT). */
export const PLATFORM_FETCH_TIMEOUT_MS = 400;

/** Portier's settings for fetching from the platforms: their CA trusted, loopback allowed (unless said otherwise). */
export function platformFetchConfig(allowPrivate = true): Pick<Config, 'jwksUri'> {
  return { jwksUri: { allowPrivate, ca: { file: 'platforms', pem: PLATFORM_TLS.cert }, timeoutMs: PLATFORM_FETCH_TIMEOUT_MS } };
}

/** Every algorithm a trusted issuer may allow (FEDERATED_ALGORITHMS). */
export type PlatformAlg = 'RS256' | 'ES256' | 'ES384' | 'PS256' | 'EdDSA' | 'Ed25519';

export interface PlatformKey {
  kid: string;
  alg: PlatformAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function platformKey(alg: PlatformAlg, kid = randomBytes(8).toString('base64url')): Promise<PlatformKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** How the platform's key server behaves: answers, never answers, or cuts the connection. */
export type ServerMode = 'up' | 'silent' | 'reset';

export interface Platform {
  /** The `iss` of its tokens: `https://127.0.0.1:<port>/<name>`. */
  issuer: string;
  /** Where its key set is (the discovery document names it). */
  jwksUri: string;
  /** The key it signs with now. */
  key: PlatformKey;
  /** The keys its key set publishes (the signing key first). */
  published: PlatformKey[];
  mode: ServerMode;
  /** Requests its discovery document and key set got. */
  hits: { discovery: number; jwks: number };
  /** A new key signs from now on; the old one stays published (as platforms rotate). */
  rotate(): Promise<PlatformKey>;
  /** Signs `claims` (its issuer's `iss` added) with its current key, or as `options` say. */
  sign(claims: JWTPayload, options?: { key?: PlatformKey; header?: Record<string, unknown> }): Promise<string>;
}

/** An HTTPS server on 127.0.0.1 playing the platforms' issuers; closed at teardown. */
export async function platformServer(t: TestLike) {
  const platforms = new Map<string, Platform>();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: PLATFORM_TLS.key, cert: PLATFORM_TLS.cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const [, name = '', ...rest] = path.split('/');
    const platform = platforms.get(name);
    const what = rest.join('/');
    if (platform === undefined || (what !== '.well-known/openid-configuration' && what !== 'keys')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    if (what === 'keys') platform.hits.jwks += 1;
    else platform.hits.discovery += 1;
    if (platform.mode === 'silent') return;
    if (platform.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify(
        what === 'keys'
          ? { keys: platform.published.map((key) => key.publicJwk) }
          : {
              issuer: platform.issuer,
              jwks_uri: platform.jwksUri,
              response_types_supported: ['id_token'],
              subject_types_supported: ['public'],
              id_token_signing_alg_values_supported: [platform.key.alg],
            },
      ),
    );
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  const origin = `https://127.0.0.1:${port}`;

  /** A platform whose issuer is `<origin>/<name>`, signing with `alg`. */
  async function platform(name: string, alg: PlatformAlg = 'RS256'): Promise<Platform> {
    const key = await platformKey(alg);
    const created: Platform = {
      issuer: `${origin}/${name}`,
      jwksUri: `${origin}/${name}/keys`,
      key,
      published: [key],
      mode: 'up',
      hits: { discovery: 0, jwks: 0 },
      async rotate() {
        const next = await platformKey(created.key.alg);
        created.key = next;
        created.published = [next, ...created.published];
        return next;
      },
      // `this`, not `created`: a copy with another key or issuer ({ ...platform, key }) signs as that.
      sign(claims, options = {}) {
        const signer = options.key ?? this.key;
        return new SignJWT({ iss: this.issuer, ...claims })
          .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...options.header })
          .sign(signer.privateKey);
      },
    };
    platforms.set(name, created);
    return created;
  }
  return { origin, port, platform };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * A Kubernetes projected service-account token (a `serviceAccountToken` volume source with
 * an `audience`), as the kubelet mounts it: RS256, `sub`
 * `system:serviceaccount:<namespace>:<name>`, `aud` a list, and the `kubernetes.io` claim.
 */
export function kubernetesToken(
  platform: Platform,
  options: { now: number; audience: string; namespace: string; serviceAccount: string; pod?: string; lifetime?: number; saUid?: string },
): Promise<string> {
  const iat = seconds(options.now);
  const pod = options.pod ?? `${options.serviceAccount}-7d9f8b6c5-x2x4p`;
  return platform.sign({
    aud: [options.audience],
    exp: iat + (options.lifetime ?? 3600),
    iat,
    nbf: iat,
    jti: randomUUID(),
    sub: `system:serviceaccount:${options.namespace}:${options.serviceAccount}`,
    'kubernetes.io': {
      namespace: options.namespace,
      node: { name: 'node-a1', uid: randomUUID() },
      pod: { name: pod, uid: randomUUID() },
      serviceaccount: { name: options.serviceAccount, uid: options.saUid ?? randomUUID() },
    },
  });
}

/**
 * A GitHub Actions OIDC token (`permissions: id-token: write`, requested with an
 * `audience`): RS256 with `typ: JWT`, `sub` `repo:<owner>/<repo>:ref:<ref>`, and the
 * claims that describe the run.
 */
export function githubActionsToken(
  platform: Platform,
  options: { now: number; audience: string; owner: string; repo: string; ref?: string; runnerEnvironment?: string; workflow?: string },
): Promise<string> {
  const iat = seconds(options.now);
  const ref = options.ref ?? 'refs/heads/main';
  const repository = `${options.owner}/${options.repo}`;
  const workflowRef = `${repository}/.github/workflows/release.yml@${ref}`;
  const sha = randomBytes(20).toString('hex');
  return platform.sign(
    {
      jti: randomUUID(),
      sub: `repo:${repository}:ref:${ref}`,
      aud: options.audience,
      ref,
      sha,
      repository,
      repository_owner: options.owner,
      repository_owner_id: '1234567',
      run_id: '9876543210',
      run_number: '42',
      run_attempt: '1',
      repository_visibility: 'private',
      repository_id: '7654321',
      actor_id: '1111111',
      actor: 'octocat',
      workflow: options.workflow ?? 'Release',
      head_ref: '',
      base_ref: '',
      event_name: 'push',
      ref_type: 'branch',
      workflow_ref: workflowRef,
      workflow_sha: sha,
      job_workflow_ref: workflowRef,
      job_workflow_sha: sha,
      runner_environment: options.runnerEnvironment ?? 'github-hosted',
      nbf: iat - 5,
      iat,
      exp: iat + 300,
    },
    { header: { typ: 'JWT', x5t: randomBytes(20).toString('base64url') } },
  );
}

/** A SPIFFE JWT-SVID as SPIRE mints it (with `jwt_issuer` set): `sub` the SPIFFE ID, `aud` a list, 5 minutes. */
export function spiffeSvid(platform: Platform, options: { now: number; audience: string; spiffeId: string }): Promise<string> {
  const iat = seconds(options.now);
  return platform.sign({ aud: [options.audience], sub: options.spiffeId, iat, exp: iat + 300 }, { header: { typ: 'JWT' } });
}
