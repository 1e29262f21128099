import type { Logger } from 'pino';
import { DenialRecorder } from './audit/denials.js';
import { ExchangeRecorder } from './audit/exchanges.js';
import { ClientDirectory } from './clients/directory.js';
import { LastUsedTracker } from './clients/last-used.js';
import { SecretVerifier } from './clients/secret-verifier.js';
import type { Config } from './config.js';
import type { Database, Db } from './db/connect.js';
import { GenerationWatcher } from './db/generation.js';
import { RetentionJob } from './db/retention.js';
import { loadConsoleCookieKey, loadDpopNonceKey, loadFingerprintKey } from './db/settings.js';
import { MailWorker } from './events/mail.js';
import { NoticeJob, type NoticeSettings } from './events/notices.js';
import { WebhookSender } from './events/sender.js';
import { DeliveryWorker } from './events/worker.js';
import { TrustedIssuerCache } from './federation/platform-tokens.js';
import { KeyCache } from './keys/cache.js';
import { rotationSettings } from './keys/settings.js';
import { Cached } from './lib/cached.js';
import type { Clock } from './lib/clock.js';
import { ClientFingerprints } from './lib/redact.js';
import { RepeatedLog } from './lib/repeated-log.js';
import { Metrics } from './metrics.js';
import { VerifiedTokens } from './oauth/access-tokens.js';
import { JwksFetcher, RemoteJwks } from './oauth/client-auth/remote-jwks.js';
import { mutualTls } from './oauth/discovery.js';
import { DpopNonces } from './oauth/dpop.js';
import { tokenEndpointUrls } from './oauth/endpoints.js';
import { RevocationList } from './oauth/revocations.js';
import type { TokenEndpointContext } from './oauth/token.js';
import { TokenEvents } from './oauth/token-events.js';
import { subscribeTokenListeners } from './oauth/token-listeners.js';
import { createPeople, type People } from './people/people.js';
import { IssuanceHook } from './policy/hook.js';
import { QuotaTracker } from './policy/quota.js';
import { UsageCounters } from './policy/usage.js';
import { Admission } from './protection/admission.js';
import { type Argon2Pool, sharedArgon2Pool } from './protection/argon2-pool.js';
import { FailureBudgets } from './protection/failure-budget.js';
import { Tarpit } from './protection/tarpit.js';
import { offeredScopes } from './services/store.js';
import type { TrustBundles } from './tls/spiffe.js';

/** The services routes use, attached to the Fastify instance as `app.portier`. */
export interface Portier {
  config: Config;
  /** The time as request handling sees it (see lib/clock.ts). */
  clock: Clock;
  database: Database;
  db: Db;
  directory: ClientDirectory;
  keys: KeyCache;
  lastUsed: LastUsedTracker;
  denials: DenialRecorder;
  /** Token exchanges, summarised into the audit trail (audit/exchanges.ts). */
  exchanges: ExchangeRecorder;
  generation: GenerationWatcher;
  /** Deletes expired rows at start and hourly (see db/retention.ts). */
  retention: RetentionJob;
  revocations: RevocationList;
  metrics: Metrics;
  tokenEndpoint: TokenEndpointContext;
  /** What the token endpoints did, for whoever listens (oauth/token-events.ts; the listeners: oauth/token-listeners.ts). */
  tokenEvents: TokenEvents;
  tarpit: Tarpit;
  /** argon2id work in flight and queued (see protection/admission.ts). */
  admission: Admission;
  /** The low-priority threads argon2id verifications run on (see protection/argon2-pool.ts). */
  argon2: Argon2Pool;
  /** For failures that repeat (an outage fails every request): at most a line a second per kind. */
  repeatedLog: RepeatedLog;
  /** Every scope of every service, for discovery's scopes_supported. */
  scopeCatalogue: Cached<string[]>;
  /** People's sign-in and console sessions; undefined without OIDC_ISSUER. */
  people: People | undefined;
  /** Tokens and refusals per client, written about once a minute (policy/usage.ts). */
  usage: UsageCounters;
  /** Per-client token quotas (policy/quota.ts). */
  quotas: QuotaTracker;
  /** The issuance hook, when TOKEN_HOOK_URL is set (policy/hook.ts). */
  hook: IssuanceHook | undefined;
  /** Sends the webhooks' deliveries (events/worker.ts). */
  deliveries: DeliveryWorker;
  /** Notices about expiring, expired and dormant clients, at start and hourly (events/notices.ts). */
  notices: NoticeJob;
  /** Sends email notices to owners, with SMTP_URL (events/mail.ts). */
  mail: MailWorker | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    portier: Portier;
  }
}

/**
 * Makes the services of one Portier instance: the caches (and what invalidates them), the
 * protections, the background writers. Nothing here knows HTTP; app.ts attaches the result
 * to Fastify as `app.portier`, and routes ask it for what they need.
 */
export async function createPortier(
  config: Config,
  database: Database,
  logger: Logger,
  clock: Clock,
  trustBundles?: TrustBundles,
): Promise<Portier> {
  const { db } = database;
  const repeatedLog = new RepeatedLog(logger);
  const logError = (what: string) => (error: unknown) => repeatedLog.error(what, { err: error }, what);
  const { protection } = config;
  const metrics = new Metrics();
  const admission = new Admission(protection.argon2Concurrency, protection.argon2Queue);
  const argon2 = sharedArgon2Pool(protection.argon2Concurrency);
  const verifier = new SecretVerifier(
    admission,
    (hash, presented) => argon2.verify(hash, presented),
    () => metrics.argon2Verifications.inc(),
  );
  const directory = new ClientDirectory(db, verifier, logError('writing a secret slot failed'), clock);
  const keys = new KeyCache(database, rotationSettings(config), clock);
  const generation = new GenerationWatcher(db, logError('cache generation poll failed'));
  const revocations = new RevocationList(db, clock);
  const federation = new TrustedIssuerCache(db, clock);
  // RFC 8705 §5: where discovery publishes the mTLS aliases, a proof or assertion may name them.
  const mtlsAlias = mutualTls(config).certificates ? config.mtlsBaseUrl : undefined;
  const scopeCatalogue = new Cached(() => offeredScopes(db));
  const people = config.oidc === undefined ? undefined : createPeople(config, db, clock, await loadConsoleCookieKey(db));
  // Each cache drops only what a change made stale: a client's change leaves the signing
  // keys and every other client's record in place (see db/generation.ts).
  generation.onChange((changes) => {
    directory.dropStale(changes);
    if (changes.touches('keys')) keys.invalidate();
    if (changes.touches('revocations')) revocations.invalidate();
    if (changes.touches('services')) scopeCatalogue.invalidate();
    federation.dropStale(changes);
    if (changes.touches('sessions')) people?.sessions.invalidate();
  });
  const { usage, quotas, hook } = createPolicy(config, db, clock, metrics, repeatedLog);
  const { mail, notices, deliveries } = createEvents(config, db, clock, metrics, repeatedLog, logger);
  const budgets = new FailureBudgets(
    {
      perClientAndAddress: protection.failuresPerClientAndAddress,
      perAddress: protection.failuresPerAddress,
      burstPerAddress: protection.failureBurstPerAddress,
      windowMs: protection.failureWindowMs,
    },
    clock,
  );
  const portier: Portier = {
    config,
    clock,
    database,
    db,
    directory,
    keys,
    generation,
    revocations,
    repeatedLog,
    metrics,
    tarpit: new Tarpit(protection.throttleDelayMs),
    admission,
    argon2,
    lastUsed: new LastUsedTracker(db, logError('writing last_used_at failed')),
    retention: new RetentionJob(database, () => ({ now: clock(), auditRetentionDays: config.auditRetentionDays }), {
      onPruned: (deleted, ms) => logger.info({ deleted, ms }, 'retention: expired rows deleted'),
      onError: logError('retention pruning failed; trying again in a minute'),
    }),
    denials: new DenialRecorder(db, logError('writing a token denial to the audit trail failed'), clock),
    exchanges: new ExchangeRecorder(db, logError('writing a token exchange to the audit trail failed'), clock),
    tokenEvents: new TokenEvents(),
    tokenEndpoint: {
      issuer: config.issuer,
      mtlsAlias,
      trustBundles,
      clock,
      accessTokenTtl: config.accessTokenTtl,
      db,
      directory,
      verifier,
      budgets,
      assertionMaxLifetime: config.clientAssertionMaxLifetime,
      tokenExchangeMaxDepth: config.tokenExchangeMaxDepth,
      verifiedTokens: new VerifiedTokens(),
      secretPrefix: config.secretPrefix,
      remoteJwks: new RemoteJwks(new JwksFetcher({ ...config.jwksUri, ca: config.jwksUri.ca?.pem }), clock),
      federation,
      fingerprints: new ClientFingerprints(await loadFingerprintKey(db)),
      keys,
      revocations,
      dpop: {
        db,
        clock,
        tokenEndpoints: tokenEndpointUrls(config.issuer, mtlsAlias),
        nonces: config.dpopNonce ? new DpopNonces(await loadDpopNonceKey(db)) : undefined,
      },
      quotas,
      hook,
      repeatedLog,
      onChange: () => generation.catchUp(),
    },
    scopeCatalogue,
    people,
    usage,
    quotas,
    hook,
    notices,
    mail,
    deliveries,
  };
  subscribeTokenListeners(portier.tokenEvents, portier);
  return portier;
}

/**
 * The services of events (src/events/): the webhook deliveries, the notices and, with
 * SMTP_URL, their email; their outcomes go to the metrics and the log.
 */
function createEvents(config: Config, db: Db, clock: Clock, metrics: Metrics, repeatedLog: RepeatedLog, logger: Logger) {
  const logError = (what: string) => (error: unknown) => repeatedLog.error(what, { err: error }, what);
  const mail =
    config.smtp.url === undefined
      ? undefined
      : new MailWorker(
          db,
          {
            url: config.smtp.url,
            from: config.smtp.from,
            ca: config.smtp.ca?.pem,
            maxAttempts: config.webhooks.maxAttempts,
            timeoutMs: config.webhooks.timeoutMs,
          },
          clock,
          {
            sent: (result) => metrics.emailNotices.inc({ result }),
            error: (error) => repeatedLog.error('email notice failed', { err: error }, 'email notices: sending failed; trying again later'),
          },
        );
  const notices = new NoticeJob(db, noticeSettings(config), clock, {
    onGiven: (given) => {
      logger.info({ given }, 'notices given');
      mail?.nudge();
    },
    onError: logError('notices: the check failed; trying again in a minute'),
  });
  const deliveries = new DeliveryWorker(
    db,
    new WebhookSender(config.webhooks),
    { ...config.webhooks, keyEncryptionKey: config.keyEncryptionKey, source: config.issuer },
    clock,
    {
      attempted: (result, lag) => {
        metrics.webhookDeliveries.inc({ result });
        if (lag !== undefined) metrics.webhookDeliveryLag.observe(lag);
      },
      error: logError('webhook deliveries: reading or recording them failed; trying again in a second'),
    },
  );
  return { mail, notices, deliveries };
}

/** The notices' settings (events/notices.ts), from the configuration; the CLI's `portier notices` uses them too. */
export function noticeSettings(config: Config): NoticeSettings {
  return {
    ...config.notices,
    consoleUrl: `${config.issuer}/console`,
    email: config.smtp.url !== undefined,
    maxLifetimeDays: config.credentialMaxLifetimeDays,
  };
}

/**
 * The services of the token policy (src/policy/): usage counters, per-client quotas and,
 * with TOKEN_HOOK_URL, the issuance hook; their failures go to the metrics and the log.
 */
function createPolicy(config: Config, db: Db, clock: Clock, metrics: Metrics, repeatedLog: RepeatedLog) {
  const countsFailed = (counts: 'quota' | 'usage') => (error: unknown) => {
    metrics.countWriteFailures.inc({ counts });
    repeatedLog.error(
      `writing ${counts} counts failed`,
      { err: error },
      `writing ${counts} counts failed: they are kept and written later`,
    );
  };
  const usage = new UsageCounters(db, {
    onFlushError: countsFailed('usage'),
    onDropped: () => {
      metrics.usageCountsDropped.inc();
      repeatedLog.error('usage counts dropped', {}, 'usage counts dropped: too many waiting to be written (database unreachable?)');
    },
  });
  const quotas = new QuotaTracker(db, config.tokenQuota, clock, {
    onSyncError: countsFailed('quota'),
    onExceeded: (mode) => metrics.tokenQuotaExceeded.inc({ mode }),
  });
  const hook =
    config.tokenHook === undefined
      ? undefined
      : new IssuanceHook(config.tokenHook, clock, {
          called: (outcome, seconds) => metrics.tokenHookDuration.observe({ outcome }, seconds),
          failed: (reason) => metrics.tokenHookFailures.inc({ reason }),
          reused: (outcome) => metrics.tokenHookReusedAnswers.inc({ outcome }),
        });
  return { usage, quotas, hook };
}
