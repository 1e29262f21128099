import { userInfo } from 'node:os';
import { DrizzleQueryError } from 'drizzle-orm';
import type { Actor } from '../audit/events.js';
import { credentialSettings } from '../clients/credentials.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { connectDatabase, type Database } from '../db/connect.js';
import { databaseErrorKind, isConstraintViolation, isDatabaseUnavailable } from '../db/errors.js';
import { pendingMigrations } from '../db/migrations.js';
import { KeyUnavailableError } from '../keys/signing-keys.js';
import { systemClock } from '../lib/clock.js';
import { RuleError, ValidationError } from '../lib/errors.js';
import { prepareDatabase } from '../prepare.js';
import { start } from '../server.js';
import { IssuerMismatchError } from '../services/services.js';
import { auditCommand } from './audit.js';
import { clientsCommand } from './clients.js';
import { type CliOutput, type CommandGroup, type Session, UsageError } from './common.js';
import { configCommand } from './config.js';
import { issuersCommand } from './issuers.js';
import { keysCommand } from './keys.js';
import { noticesCommand } from './notices.js';
import { type CommandLine, type Flags, parseCommandLine, USAGE } from './options.js';
import { pruneCommand } from './prune.js';
import { servicesCommand } from './services.js';

/**
 * `portier`: the same plain functions as the admin API, on the same database, for
 * operators without HTTP access. Input is checked against the admin API's own JSON
 * schemas, so the CLI accepts exactly what the API accepts. One file per command group
 * (clients.ts, services.ts, issuers.ts, keys.ts, audit.ts); this one parses the command line, opens
 * the database and runs the group.
 */

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

/** The command groups that work on a prepared database, by the name typed on the command line. */
const GROUPS: Record<string, (config: Config) => CommandGroup> = {
  clients: () => clientsCommand,
  services: () => servicesCommand,
  issuers: () => issuersCommand,
  keys: (config) => (session, sub, args, flags) => keysCommand(session, config, sub, args, flags),
  audit: () => auditCommand,
  config: () => configCommand,
  prune: (config) => (session, sub) => pruneCommand(session, config, sub),
  notices: (config) => (session, sub) => noticesCommand(session, config, sub),
};

/**
 * The `portier` command. Returns the exit code: 0, or 1 after one line on standard error
 * saying what went wrong. Whatever happens, a database it opened is closed before it
 * returns (PGlite must release DATA_DIR's lock).
 */
export async function main(argv: string[], context: CliContext = processContext()): Promise<number> {
  const { out } = context;
  let parsed: CommandLine;
  try {
    parsed = parseCommandLine(argv);
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
  const session: Session = {
    out,
    database,
    actor: cliActor(),
    clock: systemClock,
    credentials: credentialSettings(config),
    failed: false,
  };
  try {
    await runCommand(session, config, { command, sub, args, flags });
    return session.failed ? 1 : 0;
  } catch (error) {
    out.stderr(`portier: ${describeFailure(error)}\n`);
    return 1;
  } finally {
    if (context.database === undefined) await database.close();
  }
}

/** Runs one command on an open database: `migrate` prepares it, every other command expects it prepared. */
async function runCommand(
  session: Session,
  config: Config,
  line: { command: string; sub: string | undefined; args: string[]; flags: Flags },
): Promise<void> {
  const { database, out } = session;
  if (line.command === 'migrate') {
    await prepareDatabase(database, config, undefined, { moveIssuer: line.flags['move-issuer'] === true });
    out.stderr(`database is up to date (${database.driver})\n`);
    return;
  }
  // Everything else works on a prepared database as it is: a command run with another
  // environment than the servers' (say, without their ISSUER) must not change it.
  const pending = await pendingMigrations(database.db);
  if (pending > 0) throw new RuleError(`the database lacks ${pending} migration(s): run \`portier migrate\` first`);
  const group = GROUPS[line.command];
  if (group === undefined) throw new UsageError(`unknown command "${line.command}"`);
  await group(config)(session, line.sub, line.args, line.flags);
}

/** Who the audit trail says acted: the operating-system user running the command. */
function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep 'unknown'
  }
  return { clientId: 'cli', sub: `cli:${user}` };
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
