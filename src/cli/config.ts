import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { applyConfig, exportConfig } from '../config-as-code/apply.js';
import { checkDocument, type DocumentFormat, formatDocument, parseDocumentText } from '../config-as-code/document.js';
import { systemClock } from '../lib/clock.js';
import { RuleError } from '../lib/errors.js';
import type { ApplyResult } from '../schemas/config.js';
import { type CommandGroup, print, UsageError } from './common.js';

/**
 * `portier config export|apply`: the configuration as code, as GET /admin/config and
 * POST /admin/config/apply do it, on the database the environment names.
 */
export const configCommand: CommandGroup = async (session, sub, _args, flags) => {
  const { out, database, actor } = session;
  if (sub === 'export') {
    const format = flags.format ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') throw new UsageError(`--format must be yaml or json, got "${format}"`);
    const document = await exportConfig(database.db, systemClock());
    const text = formatDocument(document, format);
    if (flags.out === undefined) {
      out.stdout(text);
      return;
    }
    writeFileSync(flags.out, text);
    const counts = `${document.services?.length ?? 0} service(s), ${document.trusted_issuers?.length ?? 0} trusted issuer(s)`;
    out.stderr(`wrote ${counts} and ${document.clients?.length ?? 0} client(s) to ${flags.out}\n`);
    return;
  }
  if (sub !== 'apply') throw new UsageError(`unknown config command "${sub ?? ''}"`);

  const file = flags.file;
  if (file === undefined) throw new UsageError('config apply needs --file FILE');
  const document = checkDocument(parseDocumentText(readText(file), formatOf(file)));
  const dryRun = flags['dry-run'] === true;
  // Opened before the apply, so that a secrets file that cannot be written stops it before
  // anything changes: secrets that were made and then lost would be of no use to anyone.
  const secretsFile = flags['secrets-out'] === undefined || dryRun ? undefined : openSecretsFile(flags['secrets-out']);
  let result: ApplyResult;
  try {
    result = await applyConfig(database, document, {
      dryRun,
      prune: flags.prune === true,
      actor,
      now: systemClock(),
      secretPrefix: session.credentials.secretPrefix,
      maxCredentialsPerClient: session.credentials.maxPerClient,
      maxLifetimeDays: session.credentials.maxLifetimeDays,
    });
    if (secretsFile !== undefined) {
      ftruncateSync(secretsFile.fd, 0);
      writeSync(secretsFile.fd, `${JSON.stringify(result.secrets, null, 2)}\n`, 0);
    }
  } finally {
    if (secretsFile !== undefined) closeSync(secretsFile.fd);
  }
  out.stderr(`${summary(result)}\n`);
  const created = Object.keys(result.secrets).length;
  if (secretsFile !== undefined) {
    print(out, { applied: result.applied, changes: result.changes });
    out.stderr(`the secret(s) of ${created} client(s) written to ${secretsFile.path} (mode 0600)\n`);
    return;
  }
  print(out, result);
  if (created > 0) out.stderr(`the secret(s) of ${created} new client(s) above are shown this once\n`);
};

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RuleError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** A `.json` file is JSON; anything else is read as YAML. */
function formatOf(file: string): DocumentFormat {
  return file.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
}

/** The secrets file, readable by its owner only (also when it existed before), not yet emptied. */
function openSecretsFile(path: string): { path: string; fd: number } {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
    fchmodSync(fd, 0o600);
    return { path, fd };
  } catch (error) {
    throw new RuleError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** `applied: 2 created, 1 updated, 0 deleted`, or what a dry run would do. */
function summary(result: ApplyResult): string {
  const count = (op: string) => result.changes.filter((change) => change.op === op).length;
  const counts = `${count('create')} created, ${count('update')} updated, ${count('delete')} deleted`;
  return result.applied ? `applied: ${counts}` : `dry run, nothing changed; would be: ${counts}`;
}
