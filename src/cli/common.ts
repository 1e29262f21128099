import { readFileSync } from 'node:fs';
import type { Static, TSchema } from 'typebox';
import type { Actor } from '../audit/events.js';
import type { CredentialSettings } from '../clients/credentials.js';
import type { Database } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import { ValidationError } from '../lib/errors.js';
import { bodyValidator, fieldErrors } from '../lib/validation.js';
import type { Flags } from './options.js';

// What every command group shares: where it writes, the session it runs in, input checks.

/** Where a command writes: standard output for results and secrets, standard error for everything else. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** One run of a command: where it writes, the database it works on, who it is. */
export interface Session {
  out: CliOutput;
  database: Database;
  actor: Actor;
  /** The time commands act at: the system's (the CLI has no app clock to follow). */
  clock: Clock;
  /** MAX_CREDENTIALS_PER_CLIENT and SECRET_PREFIX, as the server has them. */
  credentials: CredentialSettings;
  /** Set by a command that did part of its work (bulk enable/disable with a failure). */
  failed: boolean;
}

export function print(out: CliOutput, value: unknown): void {
  out.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

export function one(positionals: string[], what: string): string {
  const [value] = positionals;
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

export class UsageError extends Error {}

/** Checks `value` against an admin API schema, as the API does; throws ValidationError like the API would. */
export function validate<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const check = bodyValidator.compile(schema);
  if (check(value)) return value as Static<S>;
  throw new ValidationError(fieldErrors(check.errors ?? []));
}

export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A command group: `portier <group> <sub> [args] [flags]`. */
export type CommandGroup = (session: Session, sub: string | undefined, args: string[], flags: Flags) => Promise<void>;

/**
 * A flag that takes JSON (a JWKS, say): the JSON text itself when it starts with `{`,
 * otherwise the name of a file holding it. `what` says what the JSON is, for the error.
 */
export function jsonOrFile(flag: string, raw: string, what: string): unknown {
  let text = raw;
  if (!raw.trimStart().startsWith('{')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${raw} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag}: not JSON (give ${what}, or a file holding it)`);
  }
}

/** --NAME or --no-NAME: true, false, or undefined when neither (Node 20's parseArgs has no negated booleans). */
export function negatableFlag(flags: Record<string, unknown>, name: string): boolean | undefined {
  if (flags[name] === true && flags[`no-${name}`] === true) throw new UsageError(`use --${name} or --no-${name}, not both`);
  if (flags[name] === true) return true;
  if (flags[`no-${name}`] === true) return false;
  return undefined;
}
