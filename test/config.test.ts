import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CONFIG_VARIABLES, ConfigError, loadConfig, VARIABLES } from '../src/config.js';
import { makeCa, serverCertificate } from './pki.js';

type Env = Record<string, string | undefined>;

const HOOK_SECRET = 'a-hook-secret-of-at-least-32-characters';

/** Enough of a PEM file for loadConfig, which only reads it; TLS itself is tested elsewhere. */
const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/**
 * loadConfig(env) must throw a ConfigError for `variable`, whose one-line message starts
 * with the variable's name and says what is wrong (`problem`).
 */
function refuses(
  t: Test,
  env: Env,
  variable: string,
  problem: RegExp,
  label = `${variable}=${JSON.stringify(Object.values(env).join(' '))}`,
) {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (caught) {
    error = caught;
  }
  if (!(error instanceof ConfigError)) {
    t.fail(`${label}: expected a ConfigError, got ${error === undefined ? 'no error' : String(error)}`);
    return undefined;
  }
  t.equal(error.variable, variable, `${label}: names ${variable}`);
  t.ok(error.message.startsWith(`${variable}: `), `${label}: message starts with the variable name (${error.message})`);
  t.match(error.message, problem, `${label}: says what is wrong`);
  t.notOk(error.message.includes('\n'), `${label}: one line`);
  return error;
}

t.test("defaults are those of the configuration page's table", async (t) => {
  const config = loadConfig({});
  t.strictSame(config, {
    databaseUrl: undefined,
    databasePoolSize: 10,
    databaseConnectTimeout: 5000,
    databaseStatementTimeout: 10000,
    databaseCa: undefined,
    dataDir: './data',
    port: 8080,
    host: '127.0.0.1',
    issuer: 'http://localhost:8080',
    accessTokenTtl: 3600,
    signingAlg: 'ES256',
    keyEncryptionKey: undefined,
    keyEncryptionKeyPrevious: undefined,
    keyRotationDays: undefined,
    keyPublicationLead: 360,
    trustProxy: false,
    tls: undefined,
    clientCertHeader: undefined,
    spiffeTrustBundles: undefined,
    mtlsBaseUrl: undefined,
    bootstrapAdmin: undefined,
    logLevel: 'info',
    protection: {
      failuresPerClientAndAddress: 10,
      failuresPerAddress: 100,
      failureBurstPerAddress: 20,
      failureWindowMs: 60_000,
      throttleDelayMs: 1000,
      argon2Concurrency: availableParallelism(),
      argon2Queue: 4 * availableParallelism(),
      maxConnections: undefined,
      maxConnectionsPerAddress: 256,
      requestTimeoutMs: 10_000,
    },
    jwksUri: { allowPrivate: false, ca: undefined, timeoutMs: 5000 },
    dpopNonce: false,
    auditRetentionDays: 365,
    management: undefined,
    oidc: undefined,
    console: { sessionIdleSeconds: 1800, sessionMaxSeconds: 43_200, clientSignIn: true },
    clientAssertionMaxLifetime: 3600,
    tokenExchangeMaxDepth: 4,
    maxCredentialsPerClient: 5,
    credentialMaxLifetimeDays: undefined,
    secretPrefix: 'portier',
    tokenHook: undefined,
    tokenQuota: { perHour: undefined, perDay: undefined, mode: 'enforce' },
    webhooks: { allowPrivate: false, timeoutMs: 5000, maxAttempts: 15 },
    eventsMaxHold: 300,
    notices: { expiryNoticeDays: [30, 7, 1], dormantClientDays: 90, dormantClientAction: 'notify' },
    smtp: { url: undefined, from: 'portier@localhost', ca: undefined },
  });
  t.equal(loadConfig({ PORT: '9090' }).issuer, 'http://localhost:9090', 'the default ISSUER follows PORT');
  t.strictSame(loadConfig({ PORT: '', ISSUER: '  ', SIGNING_ALG: '', TRUST_PROXY: '', LOG_LEVEL: '' }), config, 'empty values mean unset');
});

t.test('every variable is read', async (t) => {
  const key = randomBytes(32);
  const previousKey = randomBytes(32);
  const caFile = join(t.testdir(), 'ca.pem');
  writeFileSync(caFile, FAKE_PEM);
  const serverCa = makeCa('config test CA');
  const server = serverCertificate(serverCa);
  const tlsFiles = {
    certFile: join(caFile, '..', 'tls.crt'),
    keyFile: join(caFile, '..', 'tls.key'),
    clientCaFile: join(caFile, '..', 'client-ca.crt'),
  };
  writeFileSync(tlsFiles.certFile, server.cert);
  writeFileSync(tlsFiles.keyFile, server.key);
  writeFileSync(tlsFiles.clientCaFile, serverCa.cert);
  const config = loadConfig({
    TLS_CERT_FILE: tlsFiles.certFile,
    TLS_KEY_FILE: tlsFiles.keyFile,
    TLS_CLIENT_CA_FILE: tlsFiles.clientCaFile,
    CLIENT_CERT_HEADER: 'X-Forwarded-Client-Cert',
    SPIFFE_TRUST_BUNDLES: `prod.example.org=${tlsFiles.clientCaFile}`,
    MTLS_BASE_URL: 'https://mtls.example.com',
    DATABASE_URL: 'postgres://portier:pw@db.internal:5432/portier',
    DATABASE_POOL_SIZE: '25',
    DATABASE_CONNECT_TIMEOUT: '2000',
    DATABASE_STATEMENT_TIMEOUT: '30000',
    DATABASE_CA_FILE: caFile,
    DATA_DIR: '/var/lib/portier',
    PORT: '3000',
    HOST: '0.0.0.0',
    ISSUER: 'https://auth.example.com',
    ACCESS_TOKEN_TTL: '600',
    SIGNING_ALG: 'EdDSA',
    KEY_ENCRYPTION_KEY: key.toString('base64'),
    KEY_ENCRYPTION_KEY_PREVIOUS: previousKey.toString('base64'),
    KEY_ROTATION_DAYS: '90',
    KEY_PUBLICATION_LEAD: '3900',
    TRUST_PROXY: '10.0.0.0/8',
    BOOTSTRAP_ADMIN_CLIENT_ID: 'root-admin',
    BOOTSTRAP_ADMIN_CLIENT_SECRET: 'a-long-enough-secret',
    LOG_LEVEL: 'debug',
    AUTH_FAILURES_PER_CLIENT_AND_ADDRESS: '5',
    AUTH_FAILURES_PER_ADDRESS: '50',
    AUTH_FAILURE_BURST_PER_ADDRESS: '5',
    AUTH_FAILURE_WINDOW: '120',
    AUTH_THROTTLE_DELAY_MS: '0',
    ARGON2_CONCURRENCY: '3',
    ARGON2_QUEUE: '0',
    MAX_CONNECTIONS: '500',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    REQUEST_TIMEOUT: '30',
    JWKS_URI_ALLOW_PRIVATE: 'true',
    JWKS_URI_CA_FILE: caFile,
    JWKS_URI_TIMEOUT: '2500',
    DPOP_NONCE: 'true',
    AUDIT_RETENTION_DAYS: '30',
    MANAGEMENT_PORT: '9102',
    MANAGEMENT_HOST: '10.0.0.5',
    OIDC_ISSUER: 'https://sso.example.com/realms/acme',
    OIDC_CLIENT_ID: 'portier',
    OIDC_CLIENT_SECRET: ' a secret, taken as it is ',
    OIDC_SCOPES: 'openid email groups',
    OIDC_ROLES_CLAIM: 'realm_access.roles',
    OIDC_ADMIN_ROLES: 'Portier Admins, ops',
    OIDC_AUDITOR_ROLES: 'audit',
    OIDC_OPERATOR_ROLES: 'developers,partners',
    OIDC_OWNER_CLAIM: 'preferred_username',
    OIDC_CA_FILE: caFile,
    OIDC_NAME: 'Acme SSO',
    CONSOLE_SESSION_IDLE: '600',
    CONSOLE_SESSION_MAX: '3600',
    CONSOLE_CLIENT_SIGN_IN: 'false',
    CLIENT_ASSERTION_MAX_LIFETIME: '600',
    TOKEN_EXCHANGE_MAX_DEPTH: '6',
    MAX_CREDENTIALS_PER_CLIENT: '3',
    CREDENTIAL_MAX_LIFETIME_DAYS: '90',
    SECRET_PREFIX: 'acme',
    TOKEN_HOOK_URL: 'https://hooks.example.com/portier',
    TOKEN_HOOK_SECRET: HOOK_SECRET,
    TOKEN_HOOK_TIMEOUT: '750',
    TOKEN_HOOK_ON_FAILURE: 'allow',
    TOKEN_QUOTA_PER_HOUR: '1000',
    TOKEN_QUOTA_PER_DAY: '20000',
    TOKEN_QUOTA_MODE: 'log',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_TIMEOUT: '2000',
    WEBHOOK_MAX_ATTEMPTS: '5',
    EVENTS_MAX_HOLD: '60',
    CREDENTIAL_EXPIRY_NOTICE_DAYS: '7, 14,7',
    DORMANT_CLIENT_DAYS: '30',
    DORMANT_CLIENT_ACTION: 'disable',
    SMTP_URL: 'smtps://mailer:pw@mail.example.com:465',
    SMTP_FROM: 'Portier <portier@example.com>',
    SMTP_CA_FILE: caFile,
  });
  t.strictSame(config, {
    databaseUrl: 'postgres://portier:pw@db.internal:5432/portier',
    databasePoolSize: 25,
    databaseConnectTimeout: 2000,
    databaseStatementTimeout: 30000,
    databaseCa: { file: caFile, pem: FAKE_PEM },
    dataDir: '/var/lib/portier',
    port: 3000,
    host: '0.0.0.0',
    issuer: 'https://auth.example.com',
    accessTokenTtl: 600,
    signingAlg: 'EdDSA',
    keyEncryptionKey: key,
    keyEncryptionKeyPrevious: previousKey,
    keyRotationDays: 90,
    keyPublicationLead: 3900,
    trustProxy: ['10.0.0.0/8'],
    tls: tlsFiles,
    clientCertHeader: 'x-forwarded-client-cert',
    spiffeTrustBundles: [{ trustDomain: 'prod.example.org', file: tlsFiles.clientCaFile }],
    mtlsBaseUrl: 'https://mtls.example.com',
    bootstrapAdmin: { clientId: 'root-admin', clientSecret: 'a-long-enough-secret' },
    logLevel: 'debug',
    protection: {
      failuresPerClientAndAddress: 5,
      failuresPerAddress: 50,
      failureBurstPerAddress: 5,
      failureWindowMs: 120_000,
      throttleDelayMs: 0,
      argon2Concurrency: 3,
      argon2Queue: 0,
      maxConnections: 500,
      maxConnectionsPerAddress: 0,
      requestTimeoutMs: 30_000,
    },
    jwksUri: { allowPrivate: true, ca: { file: caFile, pem: FAKE_PEM }, timeoutMs: 2500 },
    dpopNonce: true,
    auditRetentionDays: 30,
    management: { port: 9102, host: '10.0.0.5' },
    oidc: {
      issuer: 'https://sso.example.com/realms/acme',
      clientId: 'portier',
      clientSecret: ' a secret, taken as it is ',
      scopes: ['openid', 'email', 'groups'],
      rolesClaim: 'realm_access.roles',
      adminRoles: ['Portier Admins', 'ops'],
      auditorRoles: ['audit'],
      operatorRoles: ['developers', 'partners'],
      ownerClaim: 'preferred_username',
      ca: { file: caFile, pem: FAKE_PEM },
      name: 'Acme SSO',
    },
    console: { sessionIdleSeconds: 600, sessionMaxSeconds: 3600, clientSignIn: false },
    clientAssertionMaxLifetime: 600,
    tokenExchangeMaxDepth: 6,
    maxCredentialsPerClient: 3,
    credentialMaxLifetimeDays: 90,
    secretPrefix: 'acme',
    tokenHook: { url: 'https://hooks.example.com/portier', secret: HOOK_SECRET, timeoutMs: 750, onFailure: 'allow' },
    tokenQuota: { perHour: 1000, perDay: 20000, mode: 'log' },
    webhooks: { allowPrivate: true, timeoutMs: 2000, maxAttempts: 5 },
    eventsMaxHold: 60,
    notices: { expiryNoticeDays: [14, 7], dormantClientDays: 30, dormantClientAction: 'disable' },
    smtp: { url: 'smtps://mailer:pw@mail.example.com:465', from: 'Portier <portier@example.com>', ca: { file: caFile, pem: FAKE_PEM } },
  });
  t.throws(
    () => loadConfig({ CREDENTIAL_EXPIRY_NOTICE_DAYS: '30,0' }),
    /CREDENTIAL_EXPIRY_NOTICE_DAYS: must be comma-separated whole days/,
  );
  t.throws(() => loadConfig({ SMTP_URL: 'http://mail.example.com' }), /SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL/);
  t.throws(() => loadConfig({ JWKS_URI_ALLOW_PRIVATE: 'yes' }), /JWKS_URI_ALLOW_PRIVATE: must be true or false/);
});

t.test('TOKEN_HOOK_*: https, or http to the loopback; a secret of 32 characters or more; nothing without the URL', async (t) => {
  const hook = (env: Env) => loadConfig({ TOKEN_HOOK_SECRET: HOOK_SECRET, ...env }).tokenHook;
  t.strictSame(hook({ TOKEN_HOOK_URL: 'http://127.0.0.1:9000/hook' }), {
    url: 'http://127.0.0.1:9000/hook',
    secret: HOOK_SECRET,
    timeoutMs: 500,
    onFailure: 'deny',
  });
  for (const url of ['http://localhost:9000/', 'http://[::1]:9000/', 'http://127.1.2.3/hook']) {
    t.equal(hook({ TOKEN_HOOK_URL: url })?.url, url, `${url}: plain http to the loopback`);
  }
  for (const url of ['http://hooks.example.com/', 'http://10.0.0.1/', 'http://localhost.example.com/', 'ftp://127.0.0.1/']) {
    refuses(t, { TOKEN_HOOK_URL: url, TOKEN_HOOK_SECRET: HOOK_SECRET }, 'TOKEN_HOOK_URL', /https/);
  }
  refuses(t, { TOKEN_HOOK_URL: 'not a url', TOKEN_HOOK_SECRET: HOOK_SECRET }, 'TOKEN_HOOK_URL', /not a valid URL/);
  refuses(t, { TOKEN_HOOK_URL: 'https://user:pw@hooks.example.com/', TOKEN_HOOK_SECRET: HOOK_SECRET }, 'TOKEN_HOOK_URL', /password/);
  refuses(t, { TOKEN_HOOK_URL: 'https://hooks.example.com/' }, 'TOKEN_HOOK_SECRET', /must be set/);
  refuses(t, { TOKEN_HOOK_URL: 'https://hooks.example.com/', TOKEN_HOOK_SECRET: 'x'.repeat(31) }, 'TOKEN_HOOK_SECRET', /at least 32/);
  const url = 'https://hooks.example.com/';
  refuses(
    t,
    { TOKEN_HOOK_URL: url, TOKEN_HOOK_SECRET: HOOK_SECRET, TOKEN_HOOK_TIMEOUT: '0' },
    'TOKEN_HOOK_TIMEOUT',
    /between 10 and 60000/,
  );
  refuses(t, { TOKEN_HOOK_URL: url, TOKEN_HOOK_SECRET: HOOK_SECRET, TOKEN_HOOK_TIMEOUT: '0.5' }, 'TOKEN_HOOK_TIMEOUT', /whole number/);
  refuses(
    t,
    { TOKEN_HOOK_URL: url, TOKEN_HOOK_SECRET: HOOK_SECRET, TOKEN_HOOK_ON_FAILURE: 'retry' },
    'TOKEN_HOOK_ON_FAILURE',
    /deny, allow/,
  );
  for (const name of ['TOKEN_HOOK_SECRET', 'TOKEN_HOOK_TIMEOUT', 'TOKEN_HOOK_ON_FAILURE']) {
    refuses(t, { [name]: name === 'TOKEN_HOOK_SECRET' ? HOOK_SECRET : 'allow' }, name, /TOKEN_HOOK_URL is not/);
  }
});

t.test('TOKEN_QUOTA_*: whole numbers of tokens from 1, and a mode', async (t) => {
  t.strictSame(loadConfig({ TOKEN_QUOTA_PER_DAY: '5' }).tokenQuota, { perHour: undefined, perDay: 5, mode: 'enforce' });
  refuses(t, { TOKEN_QUOTA_PER_HOUR: '0' }, 'TOKEN_QUOTA_PER_HOUR', /between 1 and/);
  refuses(t, { TOKEN_QUOTA_PER_HOUR: '-5' }, 'TOKEN_QUOTA_PER_HOUR', /whole number/);
  refuses(t, { TOKEN_QUOTA_PER_DAY: '1e3' }, 'TOKEN_QUOTA_PER_DAY', /whole number/);
  refuses(t, { TOKEN_QUOTA_MODE: 'block' }, 'TOKEN_QUOTA_MODE', /enforce, log/);
});

t.test('DPOP_NONCE', async (t) => {
  t.equal(loadConfig({ DPOP_NONCE: 'false' }).dpopNonce, false);
  refuses(t, { DPOP_NONCE: 'yes' }, 'DPOP_NONCE', /must be true or false/);
});

t.test('AUDIT_RETENTION_DAYS', async (t) => {
  t.equal(loadConfig({ AUDIT_RETENTION_DAYS: '0' }).auditRetentionDays, 0, '0 keeps everything');
  t.equal(loadConfig({ AUDIT_RETENTION_DAYS: '36500' }).auditRetentionDays, 36_500);
  refuses(t, { AUDIT_RETENTION_DAYS: '1.5' }, 'AUDIT_RETENTION_DAYS', /whole number of days/);
  refuses(t, { AUDIT_RETENTION_DAYS: '36501' }, 'AUDIT_RETENTION_DAYS', /between 0 and 36500 days/);
});

t.test('MANAGEMENT_PORT and MANAGEMENT_HOST', async (t) => {
  t.strictSame(loadConfig({ MANAGEMENT_PORT: '9102' }).management, { port: 9102, host: '0.0.0.0' }, 'all interfaces by default');
  t.strictSame(loadConfig({ MANAGEMENT_PORT: '0' }).management, { port: 0, host: '0.0.0.0' }, '0: a free port');
  t.strictSame(loadConfig({ MANAGEMENT_PORT: '9102', MANAGEMENT_HOST: '::1' }).management, { port: 9102, host: '::1' });
  refuses(t, { MANAGEMENT_PORT: 'metrics' }, 'MANAGEMENT_PORT', /whole number/);
  refuses(t, { MANAGEMENT_PORT: '65536' }, 'MANAGEMENT_PORT', /between 0 and 65535/);
  refuses(t, { MANAGEMENT_PORT: '8080' }, 'MANAGEMENT_PORT', /must differ from PORT/);
  refuses(t, { MANAGEMENT_PORT: '9000', PORT: '9000' }, 'MANAGEMENT_PORT', /must differ from PORT/);
  refuses(t, { MANAGEMENT_HOST: '0.0.0.0' }, 'MANAGEMENT_HOST', /MANAGEMENT_PORT is not/);
});

t.test('OIDC_* and CONSOLE_*: sign-in of people through OpenID Connect', async (t) => {
  const base = { OIDC_ISSUER: 'https://sso.example.com', OIDC_CLIENT_ID: 'portier', OIDC_CLIENT_SECRET: 'secret' };
  t.strictSame(loadConfig(base).oidc, {
    issuer: 'https://sso.example.com',
    clientId: 'portier',
    clientSecret: 'secret',
    scopes: ['openid', 'profile', 'email'],
    rolesClaim: 'groups',
    adminRoles: ['portier-admin'],
    auditorRoles: ['portier-auditor'],
    operatorRoles: ['*'],
    ownerClaim: 'email',
    ca: undefined,
    name: undefined,
  });
  for (const loopback of ['http://localhost:8081', 'http://127.0.0.2:9000/idp', 'http://[::1]:9000']) {
    t.equal(loadConfig({ ...base, OIDC_ISSUER: loopback }).oidc?.issuer, loopback, `http is fine on this machine: ${loopback}`);
  }
  refuses(t, { ...base, OIDC_ISSUER: 'http://sso.example.com' }, 'OIDC_ISSUER', /https:\/\/ URL \(http:\/\/ only for localhost/);
  refuses(t, { ...base, OIDC_ISSUER: 'http://127.0.0.1.example.com' }, 'OIDC_ISSUER', /https:\/\//);
  refuses(t, { ...base, OIDC_ISSUER: 'sso.example.com' }, 'OIDC_ISSUER', /not a valid URL/);
  refuses(t, { ...base, OIDC_ISSUER: 'https://sso.example.com/?tenant=1' }, 'OIDC_ISSUER', /query or fragment/);
  refuses(t, { ...base, OIDC_ISSUER: 'https://user:pw@sso.example.com' }, 'OIDC_ISSUER', /credentials/);
  refuses(t, { ...base, OIDC_CLIENT_ID: '' }, 'OIDC_CLIENT_ID', /must be set when OIDC_ISSUER is/);
  refuses(t, { ...base, OIDC_CLIENT_SECRET: '' }, 'OIDC_CLIENT_SECRET', /must be set when OIDC_ISSUER is/);
  refuses(t, { OIDC_CLIENT_ID: 'portier' }, 'OIDC_CLIENT_ID', /is set, but OIDC_ISSUER is not/);
  refuses(t, { OIDC_ADMIN_ROLES: 'admins' }, 'OIDC_ADMIN_ROLES', /is set, but OIDC_ISSUER is not/);
  refuses(t, { ...base, OIDC_SCOPES: 'profile email' }, 'OIDC_SCOPES', /must include openid/);
  refuses(t, { ...base, OIDC_SCOPES: 'openid "quoted"' }, 'OIDC_SCOPES', /is not a scope/);
  refuses(t, { ...base, OIDC_ROLES_CLAIM: 'my groups' }, 'OIDC_ROLES_CLAIM', /claim name/);
  refuses(t, { ...base, OIDC_ADMIN_ROLES: '*' }, 'OIDC_ADMIN_ROLES', /only for OIDC_OPERATOR_ROLES/);
  refuses(t, { ...base, OIDC_AUDITOR_ROLES: 'audit,*' }, 'OIDC_AUDITOR_ROLES', /only for OIDC_OPERATOR_ROLES/);
  refuses(t, { ...base, OIDC_OPERATOR_ROLES: 'dev,,ops' }, 'OIDC_OPERATOR_ROLES', /empty entry/);
  refuses(t, { ...base, OIDC_CA_FILE: '/nonexistent/ca.pem' }, 'OIDC_CA_FILE', /cannot read/);
  refuses(t, { ...base, OIDC_NAME: 'x'.repeat(101) }, 'OIDC_NAME', /at most 100 characters/);

  t.same(loadConfig({ CONSOLE_SESSION_IDLE: '60', CONSOLE_SESSION_MAX: '300' }).console, {
    sessionIdleSeconds: 60,
    sessionMaxSeconds: 300,
    clientSignIn: true,
  });
  refuses(t, { CONSOLE_SESSION_IDLE: '59' }, 'CONSOLE_SESSION_IDLE', /between 60 and 86400 seconds/);
  refuses(t, { CONSOLE_SESSION_MAX: '299' }, 'CONSOLE_SESSION_MAX', /between 300 and 2592000 seconds/);
  refuses(
    t,
    { CONSOLE_SESSION_IDLE: '7200', CONSOLE_SESSION_MAX: '3600' },
    'CONSOLE_SESSION_IDLE',
    /not be longer than CONSOLE_SESSION_MAX/,
  );
  refuses(t, { CONSOLE_CLIENT_SIGN_IN: 'false' }, 'CONSOLE_CLIENT_SIGN_IN', /nobody could sign in/);
  refuses(t, { ...base, CONSOLE_CLIENT_SIGN_IN: 'no' }, 'CONSOLE_CLIENT_SIGN_IN', /must be true or false/);
});

t.test('PORT', async (t) => {
  t.equal(loadConfig({ PORT: '1' }).port, 1);
  t.equal(loadConfig({ PORT: '65535' }).port, 65535);
  t.equal(loadConfig({ PORT: ' 8081 ' }).port, 8081, 'surrounding spaces are ignored');
  for (const bad of ['http', 'eighty', '80a', '8080.5', '1e3', '-1', '0x50']) {
    refuses(t, { PORT: bad }, 'PORT', /whole number/);
  }
  for (const bad of ['65536', '70000', '99999999999999999999']) {
    refuses(t, { PORT: bad }, 'PORT', /between 0 and 65535/);
  }
});

t.test('ISSUER', async (t) => {
  t.equal(loadConfig({ ISSUER: 'https://auth.example.com' }).issuer, 'https://auth.example.com');
  t.equal(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com', 'trailing slash stripped');
  t.equal(loadConfig({ ISSUER: 'https://example.com/auth/' }).issuer, 'https://example.com/auth', 'with a path');
  t.equal(loadConfig({ ISSUER: 'https://example.com/auth//' }).issuer, 'https://example.com/auth');
  t.equal(loadConfig({ ISSUER: 'http://localhost:8080' }).issuer, 'http://localhost:8080', 'http is allowed');
  t.equal(loadConfig({ ISSUER: 'https://example.com:8443/tenant-a' }).issuer, 'https://example.com:8443/tenant-a');

  for (const bad of ['not-a-url', 'auth.example.com', '/relative/path', 'https://']) {
    refuses(t, { ISSUER: bad }, 'ISSUER', /URL/);
  }
  for (const bad of ['ftp://example.com', 'file:///etc/passwd', 'mailto:admin@example.com', 'javascript:alert(1)']) {
    refuses(t, { ISSUER: bad }, 'ISSUER', /http:\/\/ or https:\/\//);
  }
  for (const bad of [
    'https://example.com?tenant=a',
    'https://example.com/auth?x=1',
    'https://example.com#frag',
    'https://example.com/auth#',
    'https://example.com/?',
  ]) {
    refuses(t, { ISSUER: bad }, 'ISSUER', /query or fragment/);
  }
  refuses(t, { ISSUER: 'https://exa\nmple.com' }, 'ISSUER', /whitespace or control/, 'a newline inside the URL');
  refuses(t, { ISSUER: 'https://example.com/a b' }, 'ISSUER', /whitespace or control/, 'a space inside the URL');
});

t.test('ACCESS_TOKEN_TTL', async (t) => {
  t.equal(loadConfig({ ACCESS_TOKEN_TTL: '60' }).accessTokenTtl, 60);
  t.equal(loadConfig({ ACCESS_TOKEN_TTL: '86400' }).accessTokenTtl, 86400, 'one day is the longest');
  refuses(t, { ACCESS_TOKEN_TTL: '0' }, 'ACCESS_TOKEN_TTL', /between 60 and 86400, got 0/);
  refuses(t, { ACCESS_TOKEN_TTL: '59' }, 'ACCESS_TOKEN_TTL', /between 60 and 86400/);
  refuses(t, { ACCESS_TOKEN_TTL: '-60' }, 'ACCESS_TOKEN_TTL', /whole number/);
  refuses(t, { ACCESS_TOKEN_TTL: 'one hour' }, 'ACCESS_TOKEN_TTL', /whole number/);
  refuses(t, { ACCESS_TOKEN_TTL: '1h' }, 'ACCESS_TOKEN_TTL', /whole number/);
  refuses(t, { ACCESS_TOKEN_TTL: '3600.5' }, 'ACCESS_TOKEN_TTL', /whole number/);
  refuses(t, { ACCESS_TOKEN_TTL: '86401' }, 'ACCESS_TOKEN_TTL', /between 60 and 86400/);
  refuses(t, { ACCESS_TOKEN_TTL: '31536000' }, 'ACCESS_TOKEN_TTL', /between 60 and 86400/);
});

t.test('SIGNING_ALG', async (t) => {
  // Ed25519: RFC 9864's fully-specified name for EdDSA with an Ed25519 key.
  for (const alg of ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256']) t.equal(loadConfig({ SIGNING_ALG: alg }).signingAlg, alg);
  for (const bad of ['HS256', 'es256', 'rs256', 'none', 'ES512', 'Ed448', 'ed25519']) {
    refuses(t, { SIGNING_ALG: bad }, 'SIGNING_ALG', /one of ES256, EdDSA, Ed25519, RS256, PS256/);
  }
});

t.test('KEY_ENCRYPTION_KEY', async (t) => {
  const key = randomBytes(32);
  t.strictSame(loadConfig({ KEY_ENCRYPTION_KEY: key.toString('base64') }).keyEncryptionKey, key, 'base64');
  t.strictSame(loadConfig({ KEY_ENCRYPTION_KEY: key.toString('base64url') }).keyEncryptionKey, key, 'base64url');
  t.strictSame(
    loadConfig({ KEY_ENCRYPTION_KEY: `${key.toString('base64')}\n` }).keyEncryptionKey,
    key,
    'a trailing newline (from a file) is ignored',
  );

  refuses(t, { KEY_ENCRYPTION_KEY: 'this is not base64!' }, 'KEY_ENCRYPTION_KEY', /base64/);
  refuses(
    t,
    { KEY_ENCRYPTION_KEY: `${key.toString('base64').slice(0, 20)}*${key.toString('base64').slice(21)}` },
    'KEY_ENCRYPTION_KEY',
    /base64/,
  );
  refuses(t, { KEY_ENCRYPTION_KEY: key.toString('hex') }, 'KEY_ENCRYPTION_KEY', /32 bytes, got 48/, 'hex is not base64 of 32 bytes');
  refuses(t, { KEY_ENCRYPTION_KEY: randomBytes(16).toString('base64') }, 'KEY_ENCRYPTION_KEY', /exactly 32 bytes, got 16/);
  refuses(t, { KEY_ENCRYPTION_KEY: randomBytes(33).toString('base64') }, 'KEY_ENCRYPTION_KEY', /exactly 32 bytes, got 33/);

  const secretValue = randomBytes(16).toString('base64');
  const error = refuses(t, { KEY_ENCRYPTION_KEY: secretValue }, 'KEY_ENCRYPTION_KEY', /32 bytes/);
  t.notOk(error?.message.includes(secretValue), 'the key itself is not repeated in the message');
});

t.test('KEY_ENCRYPTION_KEY_PREVIOUS and KEY_ROTATION_DAYS', async (t) => {
  const key = randomBytes(32);
  const previous = randomBytes(32);
  const both = { KEY_ENCRYPTION_KEY: key.toString('base64'), KEY_ENCRYPTION_KEY_PREVIOUS: previous.toString('base64url') };
  t.strictSame(loadConfig(both).keyEncryptionKeyPrevious, previous, 'base64url, beside the current key');
  const current = { KEY_ENCRYPTION_KEY: key.toString('base64') };
  refuses(t, { ...current, KEY_ENCRYPTION_KEY_PREVIOUS: 'not base64!' }, 'KEY_ENCRYPTION_KEY_PREVIOUS', /base64/);
  refuses(
    t,
    { ...current, KEY_ENCRYPTION_KEY_PREVIOUS: randomBytes(16).toString('base64') },
    'KEY_ENCRYPTION_KEY_PREVIOUS',
    /exactly 32 bytes, got 16/,
  );
  refuses(t, { KEY_ENCRYPTION_KEY_PREVIOUS: previous.toString('base64') }, 'KEY_ENCRYPTION_KEY_PREVIOUS', /KEY_ENCRYPTION_KEY is not/);
  const secretValue = randomBytes(20).toString('base64');
  const error = refuses(t, { ...current, KEY_ENCRYPTION_KEY_PREVIOUS: secretValue }, 'KEY_ENCRYPTION_KEY_PREVIOUS', /32 bytes/);
  t.notOk(error?.message.includes(secretValue), 'the key itself is not repeated in the message');

  t.equal(loadConfig({}).keyRotationDays, undefined, 'unset: no automatic rotation');
  t.equal(loadConfig({ KEY_ROTATION_DAYS: '' }).keyRotationDays, undefined, 'empty: unset');
  t.equal(loadConfig({ KEY_ROTATION_DAYS: '30' }).keyRotationDays, 30);
  for (const bad of ['0', '-1', '1.5', 'monthly', '3651'])
    refuses(t, { KEY_ROTATION_DAYS: bad }, 'KEY_ROTATION_DAYS', /whole number|between/);
});

t.test('KEY_PUBLICATION_LEAD: from the JWKS max-age to 30 days', async (t) => {
  t.equal(loadConfig({ KEY_PUBLICATION_LEAD: '300' }).keyPublicationLead, 300, 'the JWKS max-age itself');
  t.equal(loadConfig({ KEY_PUBLICATION_LEAD: '2592000' }).keyPublicationLead, 2_592_000, '30 days');
  for (const bad of ['299', '0', '2592001', '1h', '-5', '3600.5'])
    refuses(t, { KEY_PUBLICATION_LEAD: bad }, 'KEY_PUBLICATION_LEAD', /whole number|between 300 and 2592000/);
});

t.test('CLIENT_ASSERTION_MAX_LIFETIME: 60 to 86400 seconds', async (t) => {
  t.equal(loadConfig({ CLIENT_ASSERTION_MAX_LIFETIME: '60' }).clientAssertionMaxLifetime, 60);
  t.equal(loadConfig({ CLIENT_ASSERTION_MAX_LIFETIME: '86400' }).clientAssertionMaxLifetime, 86_400);
  for (const bad of ['59', '86401', 'hour', '']) {
    if (bad === '') t.equal(loadConfig({ CLIENT_ASSERTION_MAX_LIFETIME: bad }).clientAssertionMaxLifetime, 3600, 'empty: the default');
    else refuses(t, { CLIENT_ASSERTION_MAX_LIFETIME: bad }, 'CLIENT_ASSERTION_MAX_LIFETIME', /whole number|between 60 and 86400/);
  }
});

t.test('TRUST_PROXY', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1, 'hop count');
  t.equal(loadConfig({ TRUST_PROXY: '3' }).trustProxy, 3);
  t.strictSame(loadConfig({ TRUST_PROXY: '10.0.0.0/8' }).trustProxy, ['10.0.0.0/8'], 'one CIDR');
  t.strictSame(
    loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1,2001:db8::/32 , ::1' }).trustProxy,
    ['10.0.0.0/8', '192.168.1.1', '2001:db8::/32', '::1'],
    'a list of CIDRs and addresses',
  );
  for (const bad of [
    'garbage',
    'yes',
    'FALSE',
    '10.0.0.0/33',
    '10.0.0.0/8,',
    '10.0.0.0/8,nonsense',
    '300.1.1.1',
    '2001:db8::/200',
    '-1',
    '1.5',
    '010.0.0.1',
    '0x0a000001',
    '10.0.0.0 /8',
  ]) {
    refuses(t, { TRUST_PROXY: bad }, 'TRUST_PROXY', /hop count|IPs\/CIDRs/);
  }
});

t.test('DATABASE_URL', async (t) => {
  t.equal(loadConfig({ DATABASE_URL: 'postgres://u@localhost:5432/db' }).databaseUrl, 'postgres://u@localhost:5432/db');
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://u@localhost/db' }).databaseUrl, 'postgresql://u@localhost/db');
  t.equal(loadConfig({ DATABASE_URL: '' }).databaseUrl, undefined, 'empty: embedded PGlite');

  const mysql = refuses(t, { DATABASE_URL: 'mysql://root:hunter2@localhost/portier' }, 'DATABASE_URL', /postgres:\/\//);
  t.match(mysql?.message ?? '', /mysql:/, 'names the scheme it got');
  t.notOk(mysql?.message.includes('hunter2'), 'the password is not repeated in the message');
  refuses(t, { DATABASE_URL: 'sqlite:///tmp/portier.db' }, 'DATABASE_URL', /postgres:\/\//);
  const notUrl = refuses(t, { DATABASE_URL: 'host=localhost password=hunter2' }, 'DATABASE_URL', /not a valid URL/);
  t.notOk(notUrl?.message.includes('hunter2'), 'the password is not repeated in the message');
  refuses(t, { DATABASE_URL: 'localhost:5432' }, 'DATABASE_URL', /postgres:\/\//, 'host:port parses as a URL with scheme localhost:');
});

t.test('DATABASE_URL sslmode', async (t) => {
  for (const mode of ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']) {
    const url = `postgres://u@db.internal/portier?sslmode=${mode}`;
    t.equal(loadConfig({ DATABASE_URL: url }).databaseUrl, url, `sslmode=${mode}`);
  }
  for (const bad of ['verifyfull', 'true', 'VERIFY-FULL', 'allow-all', '']) {
    refuses(
      t,
      { DATABASE_URL: `postgres://u@db.internal/portier?sslmode=${bad}` },
      'DATABASE_URL',
      /sslmode must be one of disable, prefer, require, verify-ca, verify-full, no-verify/,
    );
  }
});

t.test('DATABASE_POOL_SIZE', async (t) => {
  t.equal(loadConfig({ DATABASE_POOL_SIZE: '1' }).databasePoolSize, 1);
  t.equal(loadConfig({ DATABASE_POOL_SIZE: '1000' }).databasePoolSize, 1000);
  refuses(t, { DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE', /between 1 and 1000, got 0/);
  refuses(t, { DATABASE_POOL_SIZE: '1001' }, 'DATABASE_POOL_SIZE', /between 1 and 1000/);
  for (const bad of ['ten', '-5', '2.5', '10 connections']) refuses(t, { DATABASE_POOL_SIZE: bad }, 'DATABASE_POOL_SIZE', /whole number/);
});

t.test('DATABASE_CONNECT_TIMEOUT', async (t) => {
  t.equal(loadConfig({ DATABASE_CONNECT_TIMEOUT: '100' }).databaseConnectTimeout, 100);
  t.equal(loadConfig({ DATABASE_CONNECT_TIMEOUT: '600000' }).databaseConnectTimeout, 600000);
  refuses(
    t,
    { DATABASE_CONNECT_TIMEOUT: '5' },
    'DATABASE_CONNECT_TIMEOUT',
    /between 100 and 600000 milliseconds, got 5/,
    'seconds where milliseconds are meant',
  );
  refuses(t, { DATABASE_CONNECT_TIMEOUT: '0' }, 'DATABASE_CONNECT_TIMEOUT', /between 100 and 600000 milliseconds/, 'no "wait forever"');
  refuses(t, { DATABASE_CONNECT_TIMEOUT: '600001' }, 'DATABASE_CONNECT_TIMEOUT', /between 100 and 600000/);
  for (const bad of ['5s', '1e4', '-1', 'soon'])
    refuses(t, { DATABASE_CONNECT_TIMEOUT: bad }, 'DATABASE_CONNECT_TIMEOUT', /whole number of milliseconds/);
});

t.test('DATABASE_STATEMENT_TIMEOUT', async (t) => {
  t.equal(loadConfig({ DATABASE_STATEMENT_TIMEOUT: '0' }).databaseStatementTimeout, 0, '0: no limit');
  t.equal(loadConfig({ DATABASE_STATEMENT_TIMEOUT: '100' }).databaseStatementTimeout, 100);
  t.equal(loadConfig({ DATABASE_STATEMENT_TIMEOUT: '3600000' }).databaseStatementTimeout, 3600000);
  for (const bad of ['10', '99', '3600001', '10s', '-1', '1.5', 'none']) {
    refuses(t, { DATABASE_STATEMENT_TIMEOUT: bad }, 'DATABASE_STATEMENT_TIMEOUT', /must be 0 \(no limit\) or 100 to 3600000 milliseconds/);
  }
});

t.test('DATABASE_CA_FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portier-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, FAKE_PEM);
  const url = 'postgres://u@db.internal/portier';
  t.strictSame(loadConfig({ DATABASE_URL: url, DATABASE_CA_FILE: caFile }).databaseCa, { file: caFile, pem: FAKE_PEM });
  t.strictSame(
    loadConfig({ DATABASE_URL: `${url}?sslmode=verify-full`, DATABASE_CA_FILE: caFile }).databaseCa?.file,
    caFile,
    'with verify-full',
  );

  const missing = join(dir, 'missing.pem');
  refuses(t, { DATABASE_URL: url, DATABASE_CA_FILE: missing }, 'DATABASE_CA_FILE', new RegExp(`cannot read ${missing} \\(ENOENT\\)`));
  refuses(t, { DATABASE_URL: url, DATABASE_CA_FILE: dir }, 'DATABASE_CA_FILE', /cannot read .* \(EISDIR\)/, 'a directory');
  if (process.getuid?.() !== 0) {
    const unreadable = join(dir, 'unreadable.pem');
    writeFileSync(unreadable, FAKE_PEM);
    chmodSync(unreadable, 0o000);
    refuses(t, { DATABASE_URL: url, DATABASE_CA_FILE: unreadable }, 'DATABASE_CA_FILE', /cannot read .* \(EACCES\)/, 'no permission');
  }
  const notPem = join(dir, 'key.txt');
  writeFileSync(notPem, 'not a certificate');
  refuses(t, { DATABASE_URL: url, DATABASE_CA_FILE: notPem }, 'DATABASE_CA_FILE', /contains no PEM certificate/);
  refuses(t, { DATABASE_CA_FILE: caFile }, 'DATABASE_CA_FILE', /DATABASE_URL is not/, 'without DATABASE_URL');
  for (const mode of ['disable', 'no-verify']) {
    refuses(
      t,
      { DATABASE_URL: `${url}?sslmode=${mode}`, DATABASE_CA_FILE: caFile },
      'DATABASE_CA_FILE',
      new RegExp(`sslmode=${mode}, which does not check`),
    );
  }
});

t.test('BOOTSTRAP_ADMIN_CLIENT_ID and BOOTSTRAP_ADMIN_CLIENT_SECRET', async (t) => {
  const awkward = 'p@ss word:with%25+plus&=/?#"\'\\';
  t.strictSame(
    loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: 'root-admin', BOOTSTRAP_ADMIN_CLIENT_SECRET: awkward }).bootstrapAdmin,
    { clientId: 'root-admin', clientSecret: awkward },
    'any printable ASCII secret, taken verbatim',
  );
  t.strictSame(
    loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: 'root-admin', BOOTSTRAP_ADMIN_CLIENT_SECRET: '  sixteen chars  ' }).bootstrapAdmin,
    { clientId: 'root-admin', clientSecret: '  sixteen chars  ' },
    'the secret is not trimmed',
  );
  t.equal(loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: '', BOOTSTRAP_ADMIN_CLIENT_SECRET: '' }).bootstrapAdmin, undefined, 'both empty: none');

  refuses(t, { BOOTSTRAP_ADMIN_CLIENT_ID: 'root-admin' }, 'BOOTSTRAP_ADMIN_CLIENT_SECRET', /must be set when BOOTSTRAP_ADMIN_CLIENT_ID is/);
  refuses(
    t,
    { BOOTSTRAP_ADMIN_CLIENT_ID: 'root-admin', BOOTSTRAP_ADMIN_CLIENT_SECRET: '' },
    'BOOTSTRAP_ADMIN_CLIENT_SECRET',
    /must be set/,
  );
  refuses(
    t,
    { BOOTSTRAP_ADMIN_CLIENT_SECRET: 'a-long-enough-secret' },
    'BOOTSTRAP_ADMIN_CLIENT_ID',
    /must be set when BOOTSTRAP_ADMIN_CLIENT_SECRET is/,
  );

  const id = 'root-admin';
  const short = refuses(
    t,
    { BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'short-secret' },
    'BOOTSTRAP_ADMIN_CLIENT_SECRET',
    /at least 16/,
  );
  t.notOk(short?.message.includes('short-secret'), 'the secret is not repeated in the message');
  refuses(
    t,
    { BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'x'.repeat(15) },
    'BOOTSTRAP_ADMIN_CLIENT_SECRET',
    /at least 16/,
  );
  t.equal(
    loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'x'.repeat(16) }).bootstrapAdmin?.clientSecret.length,
    16,
  );
  t.equal(
    loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'x'.repeat(512) }).bootstrapAdmin?.clientSecret.length,
    512,
  );
  refuses(
    t,
    { BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'x'.repeat(513) },
    'BOOTSTRAP_ADMIN_CLIENT_SECRET',
    /at most 512/,
  );

  for (const [label, secret] of [
    ['a newline', 'sixteen-chars-ok\n'],
    ['a tab', 'sixteen\tchars-ok!'],
    ['a NUL', 'sixteen-chars\u0000ok'],
    ['DEL', 'sixteen-chars-ok\u007f'],
    ['non-ASCII', 'sécret-de-seize-car'],
    ['an emoji', 'sixteen-chars-ok🔑'],
  ] as const) {
    const error = refuses(
      t,
      { BOOTSTRAP_ADMIN_CLIENT_ID: id, BOOTSTRAP_ADMIN_CLIENT_SECRET: secret },
      'BOOTSTRAP_ADMIN_CLIENT_SECRET',
      /printable ASCII/,
      `secret with ${label}`,
    );
    t.notOk(error?.message.includes(secret), 'the secret is not repeated in the message');
  }

  for (const badId of ['Root-Admin', 'root admin', 'ab', '-admin', 'admin/root', 'ädmin', 'x'.repeat(65)]) {
    refuses(
      t,
      { BOOTSTRAP_ADMIN_CLIENT_ID: badId, BOOTSTRAP_ADMIN_CLIENT_SECRET: 'a-long-enough-secret' },
      'BOOTSTRAP_ADMIN_CLIENT_ID',
      /3–64/,
    );
  }
});

t.test('the abuse-resistance limits are whole numbers within bounds', async (t) => {
  const limits: Array<[string, string, string]> = [
    ['AUTH_FAILURES_PER_CLIENT_AND_ADDRESS', '0', '1000001'],
    ['AUTH_FAILURES_PER_ADDRESS', '0', '1000001'],
    ['AUTH_FAILURE_WINDOW', '0', '86401'],
    ['AUTH_THROTTLE_DELAY_MS', '-1', '10001'],
    ['ARGON2_CONCURRENCY', '0', '65'],
    ['ARGON2_QUEUE', '-1', '10001'],
    ['MAX_CONNECTIONS', '0', '1000001'],
    ['MAX_CONNECTIONS_PER_ADDRESS', '-1', '1000001'],
    ['REQUEST_TIMEOUT', '0', '601'],
  ];
  for (const [variable, tooLow, tooHigh] of limits) {
    refuses(t, { [variable]: 'ten' }, variable, /whole number/);
    refuses(t, { [variable]: '1.5' }, variable, /whole number/);
    refuses(t, { [variable]: tooLow }, variable, /whole number|between/);
    refuses(t, { [variable]: tooHigh }, variable, /between/);
  }
  t.equal(loadConfig({ ARGON2_CONCURRENCY: '4' }).protection.argon2Queue, 16, 'the queue follows the concurrency unless set');
});

t.test('LOG_LEVEL', async (t) => {
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    t.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level);
  for (const bad of ['verbose', 'INFO', 'warning', '30'])
    refuses(t, { LOG_LEVEL: bad }, 'LOG_LEVEL', /must be one of fatal, error, warn, info, debug, trace, silent/);
});

t.test('the first bad variable stops the load, whatever the others', async (t) => {
  const error = refuses(t, { PORT: 'x', LOG_LEVEL: 'info', SIGNING_ALG: 'ES256' }, 'PORT', /whole number/);
  t.ok(error instanceof Error, 'a ConfigError is an Error');
  t.equal(error?.name, 'ConfigError');
});

/**
 * The variable table of docs/configuration.md, read from the page itself: each variable a
 * row names, with that row's default column (the last). The table is generated from the
 * declarations (test/docs/configuration-page.test.ts checks that it is up to date); this
 * checks what it says against what loadConfig does.
 */
function configurationPageTable(): Map<string, string> {
  const page = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const start = page.indexOf('\n## Variables\n');
  const end = page.indexOf('\n## ', start + 1);
  const section = page.slice(start, end < 0 ? undefined : end);
  const defaults = new Map<string, string>();
  for (const [row] of section.matchAll(/^\| `[A-Z0-9_]+` \| .+ \|$/gm)) {
    const name = /^\| `([A-Z0-9_]+)`/.exec(row)?.[1] ?? '';
    defaults.set(name, row.slice(row.lastIndexOf(' | ') + 3, -2));
  }
  return defaults;
}

t.test("the configuration page's table names exactly the variables Portier reads", async (t) => {
  const documented = [...configurationPageTable().keys()].sort();
  t.same(documented, [...CONFIG_VARIABLES].sort());

  const read = new Set<string | symbol>();
  loadConfig(
    new Proxy(
      {},
      {
        get: (_env, name) => {
          read.add(name);
          return undefined;
        },
      },
    ),
  );
  t.same([...read].map(String).sort(), [...CONFIG_VARIABLES].sort(), 'and they are the ones loadConfig reads');
});

t.test("the configuration page's table gives each variable's declared default", async (t) => {
  const table = configurationPageTable();
  t.ok(table.size >= VARIABLES.length, 'the table is found');
  for (const variable of VARIABLES) {
    t.equal(table.get(variable.name), variable.documentedDefault, `${variable.name}: the default column`);
  }
  // A literal default, set explicitly, must change nothing: the page's value is the one in force.
  // (An OIDC_* or TOKEN_HOOK_* variable means something only beside OIDC_ISSUER or
  // TOKEN_HOOK_URL, so it is tried with it.)
  const oidc = { OIDC_ISSUER: 'https://sso.example.com', OIDC_CLIENT_ID: 'portier', OIDC_CLIENT_SECRET: 'secret' };
  const hook = { TOKEN_HOOK_URL: 'https://hooks.example.com/portier', TOKEN_HOOK_SECRET: HOOK_SECRET };
  for (const [name, documented] of table) {
    const literal = /^`([^`$]*)`$/.exec(documented)?.[1];
    const base = name.startsWith('OIDC_') ? oidc : name.startsWith('TOKEN_HOOK_') ? hook : {};
    if (literal !== undefined)
      t.strictSame(loadConfig({ ...base, [name]: literal }), loadConfig(base), `${name}=${literal} is the default`);
  }
});
