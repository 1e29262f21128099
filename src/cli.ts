#!/usr/bin/env node
import { DrizzleQueryError } from 'drizzle-orm';
import { userInfo } from 'node:os';
import type { Static, TSchema } from 'typebox';
import { parseArgs } from 'node:util';
import { bodyValidator, fieldErrors } from './admin/validation.js';
import type { Actor } from './audit/events.js';
import { listAuditEvents } from './audit/list.js';
import { createClient, getClient } from './clients/clients.js';
import { NotFoundError, RuleError, ValidationError } from './clients/errors.js';
import { bulkSetEnabled, deleteClient, regenerateSecret, updateClient } from './clients/lifecycle.js';
import { listClients } from './clients/list.js';
import { createService, deleteService, getService, IssuerMismatchError, listServices, updateService } from './clients/services.js';
import type { Database } from './db/connect.js';
import { databaseErrorKind, isConstraintViolation, isDatabaseUnavailable } from './db/errors.js';
import { pendingMigrations } from './db/migrations.js';
import { KeyUnavailableError, listSigningKeys, rotateSigningKey } from './oauth/keys.js';
import { auditQuery } from './schemas/audit.js';
import { createClientBody, type GrantInput, listClientsQuery, patchClientBody } from './schemas/clients.js';
import { createServiceBody, patchServiceBody } from './schemas/services.js';
import { exitWithError, loadConfigOrExit, openDatabaseOrExit, serve } from './serve.js';
import { prepareDatabase } from './startup.js';

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
                 [--first-name F] [--last-name L] [--expires-at ISO-8601]
  clients list [--name N] [--owner O] [--created-by C] [--status active|disabled|expired]
               [--service S] [--expires-before T] [--expires-after T] [--limit N] [--cursor C]
  clients get ID
  clients update ID [--name N] [--description D] [--role R]… [--grant …]… [--ip-range …]… [--expires-at T|none]
  clients disable ID…  |  clients enable ID…
  clients delete ID
  clients rotate-secret ID [--previous-valid-for SECONDS]

  services list  |  services get ID  |  services delete ID
  services create --id ID --name N --audience URI [--scope S]… [--description D]
  services update ID [--name N] [--description D] [--audience URI] [--scope S]…

  keys list  |  keys rotate
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
  'move-issuer': { type: 'boolean' },
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

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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
  };
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function clientsCommand(database: Database, sub: string | undefined, args: string[], flags: Flags): Promise<void> {
  const { db } = database;
  const actor = cliActor();
  switch (sub) {
    case 'create': {
      const input = validate(
        createClientBody,
        definedOnly({ client_id: flags['client-id'], owner: flags.owner, ...editableClientFlags(flags), expires_at: flags['expires-at'] }),
      );
      const { client, clientSecret } = await createClient(db, input, actor);
      print(client);
      if (clientSecret !== undefined) {
        process.stderr.write('\nclient_secret (shown this once; only its hash is stored):\n');
        process.stdout.write(`${clientSecret}\n`);
      }
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
      print(await listClients(db, filters, { limit, cursor }));
      return;
    }
    case 'get': {
      const clientId = one(args, 'client_id');
      const client = await getClient(db, clientId);
      if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
      print(client);
      return;
    }
    case 'update': {
      const clientId = one(args, 'client_id');
      const expiresAt = flags['expires-at'] === 'none' ? null : flags['expires-at'];
      const patch = validate(
        patchClientBody,
        definedOnly({ ...editableClientFlags(flags), expires_at: expiresAt }),
      );
      print(await updateClient(db, clientId, patch, actor));
      return;
    }
    case 'disable':
    case 'enable': {
      if (args.length === 0) throw new UsageError('missing client_id');
      const results = await bulkSetEnabled(db, args, sub === 'enable', actor);
      print({ results });
      if (results.some((result) => !result.ok)) process.exitCode = 1;
      return;
    }
    case 'delete':
      await deleteClient(db, one(args, 'client_id'), actor);
      process.stderr.write('deleted\n');
      return;
    case 'rotate-secret': {
      const clientId = one(args, 'client_id');
      const grace = Number(flags['previous-valid-for'] ?? 0);
      const { clientSecret, previousSecretExpiresAt } = await regenerateSecret(db, clientId, grace, actor);
      process.stderr.write(
        previousSecretExpiresAt === null
          ? 'the previous secret no longer works\n'
          : `the previous secret works until ${previousSecretExpiresAt}\n`,
      );
      process.stderr.write('client_secret (shown this once; only its hash is stored):\n');
      process.stdout.write(`${clientSecret}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown clients command "${sub ?? ''}"`);
  }
}

async function servicesCommand(database: Database, sub: string | undefined, args: string[], flags: Flags): Promise<void> {
  const { db } = database;
  const actor = cliActor();
  switch (sub) {
    case 'list':
      print({ items: await listServices(db) });
      return;
    case 'get':
      print(await getService(db, one(args, 'service id')));
      return;
    case 'create': {
      const input = validate(
        createServiceBody,
        definedOnly({ id: flags.id, name: flags.name, audience: flags.audience, description: flags.description, scopes: flags.scope }),
      );
      print(await createService(db, input, actor));
      return;
    }
    case 'update': {
      const patch = validate(
        patchServiceBody,
        definedOnly({ name: flags.name, audience: flags.audience, description: flags.description, scopes: flags.scope }),
      );
      print(await updateService(db, one(args, 'service id'), patch, actor));
      return;
    }
    case 'delete':
      await deleteService(db, one(args, 'service id'), actor);
      process.stderr.write('deleted\n');
      return;
    default:
      throw new UsageError(`unknown services command "${sub ?? ''}"`);
  }
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    exitWithError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const { values: flags, positionals } = parsed;
  const [command, sub, ...args] = positionals;
  if (flags.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'serve') return serve();

  const config = loadConfigOrExit();
  const database = await openDatabaseOrExit(config);
  try {
    if (command === 'migrate') {
      await prepareDatabase(database, config, undefined, { moveIssuer: flags['move-issuer'] === true });
      process.stderr.write(`database is up to date (${database.driver})\n`);
      return;
    }
    // Everything else works on a prepared database as it is: a command run with another
    // environment than the servers' (say, without their ISSUER) must not change it.
    const pending = await pendingMigrations(database.db);
    if (pending > 0) throw new RuleError(`the database lacks ${pending} migration(s): run \`portier migrate\` first`);
    switch (command) {
      case 'clients':
        await clientsCommand(database, sub, args, flags);
        break;
      case 'services':
        await servicesCommand(database, sub, args, flags);
        break;
      case 'keys':
        if (sub === 'list') print({ items: await listSigningKeys(database.db) });
        else if (sub === 'rotate') {
          const kid = await rotateSigningKey(database.db, config.signingAlg, config.keyEncryptionKey, config.accessTokenTtl, cliActor());
          print({ rotated_to: kid, items: await listSigningKeys(database.db) });
        } else throw new UsageError(`unknown keys command "${sub ?? ''}"`);
        break;
      case 'audit': {
        const query = validate(
          auditQuery,
          definedOnly({ client_id: flags['client-id'], action: flags.action, limit: flags.limit === undefined ? undefined : Number(flags.limit) }),
        );
        const { limit, ...filters } = query;
        print(await listAuditEvents(database.db, filters, { limit }));
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    // One line, then the database is closed (the finally below) before the process ends:
    // PGlite must release DATA_DIR's lock.
    process.stderr.write(`portier: ${describeFailure(error)}\n`);
    process.exitCode = 1;
  } finally {
    await database.close();
  }
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

await main(process.argv.slice(2));
