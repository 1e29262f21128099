import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { DrizzleQueryError } from 'drizzle-orm';
import type { Static, TSchema } from 'typebox';
import { bodyValidator, fieldErrors } from '../admin/validation.js';
import type { Actor } from '../audit/events.js';
import { listAuditEvents } from '../audit/list.js';
import { createClient, getClient } from '../clients/clients.js';
import { bulkSetEnabled, deleteClient, regenerateSecret, updateClient } from '../clients/lifecycle.js';
import { listClients } from '../clients/list.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { connectDatabase, type Database } from '../db/connect.js';
import { databaseErrorKind, isConstraintViolation, isDatabaseUnavailable } from '../db/errors.js';
import { pendingMigrations } from '../db/migrations.js';
import { emergencyRotation, requestRotation } from '../keys/rotation.js';
import { resealKeys } from '../keys/sealing.js';
import { rotationSettings } from '../keys/settings.js';
import { KeyUnavailableError, listSigningKeys } from '../keys/signing-keys.js';
import { NotFoundError, RuleError, ValidationError } from '../lib/errors.js';
import { prepareDatabase } from '../prepare.js';
import { auditQuery } from '../schemas/audit.js';
import { createClientBody, type GrantInput, listClientsQuery, patchClientBody } from '../schemas/clients.js';
import { createServiceBody, patchServiceBody } from '../schemas/services.js';
import { start } from '../server.js';
import { createService, deleteService, getService, IssuerMismatchError, listServices, updateService } from '../services/services.js';

/**
 * `portier`: the same plain functions as the admin API, on the same database, for
 * operators without HTTP access. Input is checked against the admin API's own JSON
 * schemas, so the CLI accepts exactly what the API accepts.
 */

const USAGE = `usage: portier <command>

  serve                                  start the server (same as npm start)
  migrate [--move-issuer]                apply database migrations and create the first signing key;
                                         --move-issuer moves the admin audience to this ISSUER

  clients create --name N --owner O [--client-id ID] [--description D]
                 [--grant SERVICE[:SCOPE,SCOPE…]]… [--ip-range CIDR]… [--role R]…
                 [--first-name F] [--last-name L] [--expires-at ISO-8601] [--dpop-bound]
                 [--auth-method client_secret|private_key_jwt] [--jwks JSON|FILE] [--jwks-uri https://…]
  clients list [--name N] [--owner O] [--created-by C] [--status active|disabled|expired]
               [--service S] [--expires-before T] [--expires-after T] [--limit N] [--cursor C]
  clients get ID
  clients update ID [--name N] [--description D] [--role R]… [--grant …]… [--ip-range …]… [--expires-at T|none]
                 [--auth-method M] [--jwks JSON|FILE] [--jwks-uri URL] [--dpop-bound | --no-dpop-bound]
                 (switching to private_key_jwt removes the secrets; to client_secret prints a new one)
  clients disable ID…  |  clients enable ID…
  clients delete ID
  clients rotate-secret ID [--previous-valid-for SECONDS]

  services list  |  services get ID  |  services delete ID
  services create --id ID --name N --audience URI [--scope S]… [--description D]
  services update ID [--name N] [--description D] [--audience URI] [--scope S]…

  keys list  |  keys rotate [--emergency]  |  keys reseal
  audit [--client-id ID] [--action A] [--limit N]

Configuration comes from the same environment variables as the server (DATABASE_URL, DATA_DIR, …).
Only migrate prepares the database; every other command expects it prepared, and list, get,
keys list and audit write nothing. Secrets are printed once, on standard output; nothing else is.`;

const OPTIONS = {
  name: { type: 'string' },
  owner: { type: 'string' },
  'client-id': { type: 'string' },
  description: { type: 'string' },
  grant: { type: 'string', multiple: true },
  'ip-range': { type: 'string', multiple: true },
  role: { type: 'string', multiple: true },
  'first-name': { type: 'string' },
  'last-name': { type: 'string' },
  'expires-at': { type: 'string' },
  'created-by': { type: 'string' },
  status: { type: 'string' },
  service: { type: 'string' },
  'expires-before': { type: 'string' },
  'expires-after': { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'previous-valid-for': { type: 'string' },
  id: { type: 'string' },
  audience: { type: 'string' },
  scope: { type: 'string', multiple: true },
  action: { type: 'string' },
  'auth-method': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-uri': { type: 'string' },
  'move-issuer': { type: 'boolean' },
  'dpop-bound': { type: 'boolean' },
  'no-dpop-bound': { type: 'boolean' },
  emergency: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Checks `value` against an admin API schema, as the API does; throws ValidationError like the API would. */
function validate<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const check = bodyValidator.compile(schema);
  if (check(value)) return value as Static<S>;
  throw new ValidationError(fieldErrors(check.errors ?? []));
}

/** `service:scope1,scope2` → { service, scopes }. */
function parseGrant(flag: string): GrantInput {
  // Scopes often contain ':' themselves (events:read): only the first ':' separates.
  const colon = flag.indexOf(':');
  if (colon < 0) return { service: flag, scopes: [] };
  const scopes = flag.slice(colon + 1);
  return { service: flag.slice(0, colon), scopes: scopes === '' ? [] : scopes.split(',') };
}

function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep 'unknown'
  }
  return { clientId: 'cli', sub: `cli:${user}` };
}

/** Where a command writes: standard output for results and secrets, standard error for everything else. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** One run of a command: where it writes, the database it works on, who it is. */
interface Session {
  out: CliOutput;
  database: Database;
  actor: Actor;
  /** Set by a command that did part of its work (bulk enable/disable with a failure). */
  failed: boolean;
}

function print(out: CliOutput, value: unknown): void {
  out.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

function one(positionals: string[], what: string): string {
  const [value] = positionals;
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

class UsageError extends Error {}

/** The flags of the client fields that create and update share, as the admin API names them. */
function editableClientFlags(flags: Flags) {
  return {
    name: flags.name,
    description: flags.description,
    first_name: flags['first-name'],
    last_name: flags['last-name'],
    roles: flags.role,
    grants: flags.grant?.map(parseGrant),
    ip_ranges: flags['ip-range'],
    dpop_bound: dpopBoundFlag(flags),
  };
}

/** The key fields of a client (create and update): `--jwks` is JSON text, or a file that holds it. */
function keyFlags(flags: Flags) {
  let jwks: unknown;
  const raw = flags.jwks;
  if (raw !== undefined) {
    let text = raw;
    if (!raw.trimStart().startsWith('{')) {
      try {
        text = readFileSync(raw, 'utf8');
      } catch (error) {
        throw new UsageError(`--jwks: cannot read ${raw} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    try {
      jwks = JSON.parse(text);
    } catch {
      throw new UsageError('--jwks: not JSON (give a JWKS, {"keys": […]}, or a file holding one)');
    }
  }
  return { auth_method: flags['auth-method'], jwks, jwks_uri: flags['jwks-uri'] };
}

/** Prints a client, then a secret it was just given (create, or a switch to client_secret). */
function printClient(out: CliOutput, client: unknown, clientSecret: string | undefined): void {
  print(out, client);
  if (clientSecret !== undefined) {
    out.stderr('\nclient_secret (shown this once; only its hash is stored):\n');
    out.stdout(`${clientSecret}\n`);
  }
}

/** --dpop-bound or --no-dpop-bound (Node 20's parseArgs has no negated booleans). */
function dpopBoundFlag(flags: Flags): boolean | undefined {
  if (flags['dpop-bound'] === true && flags['no-dpop-bound'] === true)
    throw new UsageError('use --dpop-bound or --no-dpop-bound, not both');
  if (flags['dpop-bound'] === true) return true;
  if (flags['no-dpop-bound'] === true) return false;
  return undefined;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function clientsCommand(session: Session, sub: string | undefined, args: string[], flags: Flags): Promise<void> {
  const { out, actor } = session;
  const { db } = session.database;
  switch (sub) {
    case 'create': {
      const input = validate(
        createClientBody,
        definedOnly({
          client_id: flags['client-id'],
          owner: flags.owner,
          ...editableClientFlags(flags),
          expires_at: flags['expires-at'],
          ...keyFlags(flags),
        }),
      );
      const { client, clientSecret } = await createClient(db, input, actor);
      printClient(out, client, clientSecret);
      return;
    }
    case 'list': {
      const query = validate(
        listClientsQuery,
        definedOnly({
          name: flags.name,
          owner: flags.owner,
          created_by: flags['created-by'],
          status: flags.status,
          service: flags.service,
          expires_before: flags['expires-before'],
          expires_after: flags['expires-after'],
          limit: flags.limit === undefined ? undefined : Number(flags.limit),
          cursor: flags.cursor,
        }),
      );
      const { limit, cursor, ...filters } = query;
      print(out, await listClients(db, filters, { limit, cursor }));
      return;
    }
    case 'get': {
      const clientId = one(args, 'client_id');
      const client = await getClient(db, clientId);
      if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
      print(out, client);
      return;
    }
    case 'update': {
      const clientId = one(args, 'client_id');
      const expiresAt = flags['expires-at'] === 'none' ? null : flags['expires-at'];
      const patch = validate(patchClientBody, definedOnly({ ...editableClientFlags(flags), expires_at: expiresAt, ...keyFlags(flags) }));
      const { client, clientSecret } = await updateClient(db, clientId, patch, actor);
      printClient(out, client, clientSecret);
      return;
    }
    case 'disable':
    case 'enable': {
      if (args.length === 0) throw new UsageError('missing client_id');
      const results = await bulkSetEnabled(db, args, sub === 'enable', actor);
      print(out, { results });
      if (results.some((result) => !result.ok)) session.failed = true;
      return;
    }
    case 'delete':
      await deleteClient(db, one(args, 'client_id'), actor);
      out.stderr('deleted\n');
      return;
    case 'rotate-secret': {
      const clientId = one(args, 'client_id');
      const grace = Number(flags['previous-valid-for'] ?? 0);
      const { clientSecret, previousSecretExpiresAt } = await regenerateSecret(db, clientId, grace, actor);
      out.stderr(
        previousSecretExpiresAt === null
          ? 'the previous secret no longer works\n'
          : `the previous secret works until ${previousSecretExpiresAt}\n`,
      );
      out.stderr('client_secret (shown this once; only its hash is stored):\n');
      out.stdout(`${clientSecret}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown clients command "${sub ?? ''}"`);
  }
}

async function servicesCommand(session: Session, sub: string | undefined, args: string[], flags: Flags): Promise<void> {
  const { out, actor } = session;
  const { db } = session.database;
  switch (sub) {
    case 'list':
      print(out, { items: await listServices(db) });
      return;
    case 'get':
      print(out, await getService(db, one(args, 'service id')));
      return;
    case 'create': {
      const input = validate(
        createServiceBody,
        definedOnly({ id: flags.id, name: flags.name, audience: flags.audience, description: flags.description, scopes: flags.scope }),
      );
      print(out, await createService(db, input, actor));
      return;
    }
    case 'update': {
      const patch = validate(
        patchServiceBody,
        definedOnly({ name: flags.name, audience: flags.audience, description: flags.description, scopes: flags.scope }),
      );
      print(out, await updateService(db, one(args, 'service id'), patch, actor));
      return;
    }
    case 'delete':
      await deleteService(db, one(args, 'service id'), actor);
      out.stderr('deleted\n');
      return;
    default:
      throw new UsageError(`unknown services command "${sub ?? ''}"`);
  }
}

/** What main() needs from outside: where to write, the environment, and (tests) a database already open. */
export interface CliContext {
  out: CliOutput;
  env: NodeJS.ProcessEnv;
  /** A database to work on as it is, left open; otherwise the one the environment names is opened and closed. */
  database?: Database;
}

const processContext = (): CliContext => ({
  out: { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) },
  env: process.env,
});

/**
 * The `portier` command. Returns the exit code: 0, or 1 after one line on standard error
 * saying what went wrong. Whatever happens, a database it opened is closed before it
 * returns (PGlite must release DATA_DIR's lock).
 */
export async function main(argv: string[], context: CliContext = processContext()): Promise<number> {
  const { out } = context;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    out.stderr(`portier: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 1;
  }
  const { values: flags, positionals } = parsed;
  const [command, sub, ...args] = positionals;
  if (flags.help || command === undefined || command === 'help') {
    out.stdout(`${USAGE}\n`);
    return 0;
  }
  if (command === 'serve') {
    await start();
    return 0;
  }

  let config: Config;
  try {
    config = loadConfig(context.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    out.stderr(`portier: configuration error: ${error.message}\n`);
    return 1;
  }
  let database: Database;
  try {
    database = context.database ?? (await connectDatabase(config));
  } catch (error) {
    out.stderr(`portier: cannot open the database: ${describeFailure(error)}\n`);
    return 1;
  }
  const session: Session = { out, database, actor: cliActor(), failed: false };
  try {
    if (command === 'migrate') {
      await prepareDatabase(database, config, undefined, { moveIssuer: flags['move-issuer'] === true });
      out.stderr(`database is up to date (${database.driver})\n`);
      return 0;
    }
    // Everything else works on a prepared database as it is: a command run with another
    // environment than the servers' (say, without their ISSUER) must not change it.
    const pending = await pendingMigrations(database.db);
    if (pending > 0) throw new RuleError(`the database lacks ${pending} migration(s): run \`portier migrate\` first`);
    switch (command) {
      case 'clients':
        await clientsCommand(session, sub, args, flags);
        break;
      case 'services':
        await servicesCommand(session, sub, args, flags);
        break;
      case 'keys':
        await keysCommand(session, config, sub, flags);
        break;
      case 'audit': {
        const query = validate(
          auditQuery,
          definedOnly({
            client_id: flags['client-id'],
            action: flags.action,
            limit: flags.limit === undefined ? undefined : Number(flags.limit),
          }),
        );
        const { limit, ...filters } = query;
        print(out, await listAuditEvents(database.db, filters, { limit }));
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
    return session.failed ? 1 : 0;
  } catch (error) {
    out.stderr(`portier: ${describeFailure(error)}\n`);
    return 1;
  } finally {
    if (context.database === undefined) await database.close();
  }
}

/** `portier keys …`: the same functions as /admin/keys and /admin/keys/rotate, and re-sealing. */
async function keysCommand(session: Session, config: Config, sub: string | undefined, flags: Flags): Promise<void> {
  const { out, database, actor } = session;
  if (sub === 'list') {
    print(out, { items: await listSigningKeys(database.db) });
  } else if (sub === 'rotate') {
    const rotate = flags.emergency === true ? emergencyRotation : requestRotation;
    const outcome = await rotate(database, rotationSettings(config), new Date(), actor);
    out.stderr(
      outcome.status === 'active'
        ? `key ${outcome.kid} signs from now on${outcome.withdrawn.length > 0 ? `; withdrawn from the JWKS: ${outcome.withdrawn.join(', ')}` : ''}\n`
        : `key ${outcome.kid} is published and starts signing at ${outcome.activatesAt.toISOString()}\n`,
    );
    print(out, {
      kid: outcome.kid,
      status: outcome.status,
      activates_at: outcome.activatesAt.toISOString(),
      withdrawn: outcome.withdrawn,
      items: await listSigningKeys(database.db),
    });
  } else if (sub === 'reseal') {
    if (config.keyEncryptionKey === undefined) throw new RuleError('KEY_ENCRYPTION_KEY is not set: there is no key to seal with');
    const keys = rotationSettings(config).keys;
    const outcome = await database.exclusive('keys', (tx) => resealKeys(tx, keys, actor));
    out.stderr(`sealed ${outcome.resealed.length} signing key(s) under KEY_ENCRYPTION_KEY\n`);
    print(out, outcome);
  } else throw new UsageError(`unknown keys command "${sub ?? ''}"`);
}

/** What went wrong, in one line that never carries query text or parameters. */
function describeFailure(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}\n${USAGE}`;
  if (error instanceof ValidationError) return error.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
  if (error instanceof RuleError || error instanceof IssuerMismatchError || error instanceof KeyUnavailableError) return error.message;
  if (isConstraintViolation(error)) return 'the change conflicts with another change made at the same time; try again';
  if (isDatabaseUnavailable(error)) return `cannot reach the database (${databaseErrorKind(error)})`;
  if (error instanceof DrizzleQueryError) return `database error: ${databaseErrorKind(error)}`;
  return error instanceof Error ? error.message : String(error);
}
