import { type Actor, recordChange } from '../audit/events.js';
import { existingClientIds } from '../clients/list.js';
import { type NewSecret, newCredentialId, newSecret } from '../clients/secrets.js';
import type { Database, DbOrTx, Tx } from '../db/connect.js';
import { isConstraintViolation } from '../db/errors.js';
import { type FieldError, RuleError, ValidationError } from '../lib/errors.js';
import type { ApplyResult, ConfigChange, ConfigDocument } from '../schemas/config.js';
import { ConfigDocumentError, placeOf } from './document.js';
import { type ApplyContext, CONFIG_KIND_HANDLERS, type ConfigKindHandler, type CurrentObject, type Entry, entryId } from './kinds.js';
import { type DesiredEntry, type PlannedStep, planChanges } from './plan.js';

/**
 * Configuration as code: export the objects as a document, and apply a document. An apply
 * is one transaction under the `config` lock (two applies take turns, on any number of
 * instances): it applies entirely, or, when any part of it fails, not at all, and says
 * every place that failed. A dry run does all of it, so it finds every error a real
 * apply would, and then rolls back.
 */

/** The configuration as a document: every object but the built-in ones, by id. */
export async function exportConfig(db: DbOrTx, now: number): Promise<ConfigDocument> {
  const document: Record<string, Entry[]> = {};
  for (const handler of CONFIG_KIND_HANDLERS) {
    const objects = (await handler.load(db, now)).filter((object) => !object.builtIn);
    document[handler.section] = objects
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((object) => handler.exported?.(object.entry) ?? object.entry);
  }
  return document as ConfigDocument;
}

export interface ApplyOptions {
  /** Check and report, change nothing. */
  dryRun: boolean;
  /** Delete the managed objects the document no longer lists. */
  prune: boolean;
  actor: Actor;
  now: number;
  /**
   * Aborted when whoever asked for the apply is gone (the admin API's caller closed the
   * connection): the apply stops and rolls back, so that no client is created whose
   * one-time secret nobody receives.
   */
  signal?: AbortSignal | undefined;
  /** SECRET_PREFIX, for the secrets of new clients. */
  secretPrefix?: string | undefined;
  /** MAX_CREDENTIALS_PER_CLIENT: the most keys a client's `jwks` may list. */
  maxCredentialsPerClient?: number | undefined;
  /** CREDENTIAL_MAX_LIFETIME_DAYS: the end of new clients' first credentials (as through the API). */
  maxLifetimeDays?: number | undefined;
}

/**
 * How many secrets of new clients are hashed at once ahead of the transaction: argon2id
 * runs on libuv's thread pool (4 threads), so this keeps every core busy without queueing
 * the whole document there.
 */
const HASHES_AT_ONCE = 4;

/** Thrown at the end of a dry run to roll everything back, carrying what would have changed. */
class DryRun extends Error {
  constructor(readonly changes: ConfigChange[]) {
    super('dry run');
  }
}

/** Applies a checked document (see checkDocument). Throws a ConfigDocumentError, having changed nothing, when any part fails. */
export async function applyConfig(database: Database, document: ConfigDocument, options: ApplyOptions): Promise<ApplyResult> {
  const desired = new Map<ConfigKindHandler, DesiredEntry[]>();
  for (const handler of CONFIG_KIND_HANDLERS) {
    const entries = (document[handler.section] ?? []) as Entry[];
    desired.set(
      handler,
      await Promise.all(
        entries.map(async (entry, index) => ({
          id: entryId(handler.section, entry),
          entry: await handler.normalize(entry),
          place: `${handler.section}[${index}]`,
        })),
      ),
    );
  }
  const context: ApplyContext = {
    actor: options.actor,
    now: options.now,
    newSecrets: await prepareSecrets(database, desired, options),
    secretPrefix: options.secretPrefix,
    maxCredentialsPerClient: options.maxCredentialsPerClient,
    maxLifetimeDays: options.maxLifetimeDays,
  };
  try {
    return await database.exclusive('config', async (tx) => {
      const current = new Map<ConfigKindHandler, CurrentObject[]>();
      for (const handler of CONFIG_KIND_HANDLERS) current.set(handler, await handler.load(tx, options.now));
      const plan = planChanges(CONFIG_KIND_HANDLERS, current, desired, { prune: options.prune });
      if (plan.errors.length > 0) throw new ConfigDocumentError(plan.errors);
      const { secrets, errors } = await execute(tx, plan.steps, context, options.signal);
      if (errors.length > 0) throw new ConfigDocumentError(errors);
      // The last moment to give up: past it, the secrets are committed and must be answered.
      options.signal?.throwIfAborted();
      const changes = plan.steps.map((step) => step.change);
      if (options.dryRun) throw new DryRun(changes);
      if (changes.length > 0) {
        await recordChange(tx, {
          action: 'config.applied',
          actor: options.actor,
          details: { prune: options.prune, changes: changes.map(({ op, kind, id }) => ({ op, kind, id })) },
        });
      }
      return { applied: true, changes, secrets };
    });
  } catch (error) {
    if (error instanceof DryRun) return { applied: false, changes: error.changes, secrets: {} };
    throw error;
  }
}

/**
 * Carries out the steps in an order that each rule accepts along the way: creates and
 * updates kind by kind (services and trusted issuers before the clients that name them),
 * then deletions in the reverse order (clients, and the changes of the clients that stay,
 * before the services and trusted issuers they named), then what updates had to
 * leave for last (scopes removed from a service once no client holds them). Each step runs
 * in a savepoint: a failed one is undone and noted, and the others still run, so that one
 * answer lists every error.
 */
async function execute(
  tx: Tx,
  steps: PlannedStep[],
  context: ApplyContext,
  signal: AbortSignal | undefined,
): Promise<{ secrets: Record<string, string>; errors: FieldError[] }> {
  const secrets: Record<string, string> = {};
  const errors: FieldError[] = [];
  const last: Array<{ step: PlannedStep; values: Entry }> = [];
  const attempt = async (place: string, work: (savepoint: Tx) => Promise<void>, prefix = '') => {
    signal?.throwIfAborted();
    try {
      await tx.transaction(work);
    } catch (error) {
      errors.push(...placedErrors(error, place, prefix));
    }
  };

  for (const step of steps) {
    const { handler, change, values } = step;
    if (change.op === 'create') {
      await attempt(step.place, async (savepoint) => {
        const secret = await handler.create(savepoint, values, context);
        if (secret !== undefined) secrets[change.id] = secret;
      });
    } else if (change.op === 'update') {
      const split = step.current === undefined ? undefined : handler.split?.(step.current, values);
      if (split !== undefined) last.unshift({ step, values: split.later });
      const now = split?.now ?? values;
      if (Object.keys(now).length === 0) continue;
      await attempt(step.place, async (savepoint) => {
        const secret = await handler.update(savepoint, change.id, now, context);
        if (secret !== undefined) secrets[change.id] = secret;
      });
    }
  }
  for (const step of steps) {
    if (step.change.op !== 'delete') continue;
    await attempt(
      step.place,
      (savepoint) => step.handler.remove(savepoint, step.change.id, context),
      `cannot delete "${step.change.id}": `,
    );
  }
  for (const { step, values } of last) {
    await attempt(step.place, async (savepoint) => void (await step.handler.update(savepoint, step.change.id, values, context)));
  }
  return { secrets, errors };
}

/** A rule's refusal as errors at their place in the document; anything else (the database down) is thrown on. */
function placedErrors(error: unknown, place: string, prefix: string): FieldError[] {
  if (error instanceof ValidationError) {
    return error.errors.map((fieldError) => ({ path: placeOf(fieldError.path, place), message: `${prefix}${fieldError.message}` }));
  }
  if (error instanceof RuleError) return [{ path: place, message: `${prefix}${error.message}` }];
  if (isConstraintViolation(error)) {
    return [{ path: place, message: `${prefix}conflicts with another object (an id or an audience already taken)` }];
  }
  throw error;
}

/**
 * Makes (and hashes) the secrets of the clients the document would create, before the
 * `config` lock is taken: argon2id is most of an apply's time, and so several hashes run
 * at once and no other apply waits for them. Clients that exist already are left out (a
 * document applied again creates nothing), and so is a client that turns out to exist by
 * the time the lock is held: it is then updated, and its prepared secret goes unused. A
 * dry run, which rolls back and shows no secret, gives every new client one stand-in (a
 * secret nobody is told, hashed once).
 */
async function prepareSecrets(
  database: Database,
  desired: ReadonlyMap<ConfigKindHandler, DesiredEntry[]>,
  { dryRun, signal, secretPrefix }: Pick<ApplyOptions, 'dryRun' | 'signal' | 'secretPrefix'>,
): Promise<Map<string, NewSecret>> {
  const entries = [...desired.entries()].find(([handler]) => handler.section === 'clients')?.[1] ?? [];
  const withSecrets = entries.filter(({ entry }) => (entry.auth_method ?? 'client_secret') === 'client_secret').map(({ id }) => id);
  const existing = await existingClientIds(database.db, withSecrets);
  const queue = withSecrets.filter((id) => !existing.has(id));
  if (dryRun && queue.length > 0) {
    // One hash for all; each its own credential id, which is the credential's primary key.
    const standIn = await newSecret(secretPrefix);
    return new Map(queue.map((id) => [id, { ...standIn, credentialId: newCredentialId() }]));
  }
  const prepared = new Map<string, NewSecret>();
  const worker = async () => {
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      signal?.throwIfAborted();
      prepared.set(id, await newSecret(secretPrefix));
    }
  };
  await Promise.all(Array.from({ length: HASHES_AT_ONCE }, worker));
  return prepared;
}
