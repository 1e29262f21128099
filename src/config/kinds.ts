/**
 * The kinds of entry in the configuration table (config/variables.ts). Each builder takes
 * what the table says about a variable (name, meaning, default, bounds) and returns a
 * Setting: the variable as docs/configuration.md documents it (that page's table is generated
 * from these, by `npm run docs:config`), and the function that reads and checks it. A value
 * is trimmed first, and an empty one counts as unset.
 */

export type Env = Record<string, string | undefined>;

/** A configuration problem; `message` is the one line printed before the process stops. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * What a parse function throws for a bad value: the problem alone, such as "must be base64".
 * The setting that called it puts its variable's name in front (a ConfigError).
 */
export class BadValue extends Error {}

/** An environment variable as the configuration page's table documents it (docs/configuration.md). */
export interface Variable {
  readonly name: string;
  /**
   * What it means: the table's "meaning" column, Markdown on one line. Links are relative
   * to docs/, where the page is (the link check in test/docs/ follows them).
   */
  readonly doc: string;
  /** The values it takes: the "values" column, worked out from the bounds or the choices where the kind has them. */
  readonly values: string;
  /** The "default" column, to the letter: `3600` in backquotes, "unset", "unset: …", or the text of a computed default. */
  readonly documentedDefault: string;
}

/** One entry of the configuration table: the variables it reads, and how. */
export class Setting<T> {
  constructor(
    readonly variables: readonly Variable[],
    /** The value in this environment; throws a ConfigError naming the bad variable. */
    readonly read: (env: Env) => T,
  ) {}
}

/** A default that is not a literal: worked out from the environment, and documented by a text. */
export class Computed<T> {
  constructor(
    /** What the default column says. */
    readonly documented: string,
    readonly value: (env: Env) => T,
  ) {}
}

/** The default is worked out at start; `documented` is what the default column says. */
export function computed<T>(documented: string, value: (env: Env) => T): Computed<T> {
  return new Computed(documented, value);
}

/** No default: the setting is undefined while the variable is unset. `meaning` says what that means. */
export function unset(meaning?: string): Computed<undefined> {
  return new Computed(meaning === undefined ? 'unset' : `unset: ${meaning}`, () => undefined);
}

/** What every entry says: the variable's name, its meaning, the values it takes, and its value when unset. */
interface Declared<D> {
  name: string;
  doc: string;
  /** The values it takes, in Markdown; integer, boolean and choice work it out themselves when it is left out. */
  values?: string;
  /** A literal (documented in backquotes), computed(…) or unset(…). */
  default: D;
}

/** Defaults the page can show as they are. */
type Literal = string | number | boolean;

/**
 * Any other format: `parse` gets the trimmed value when the variable is set, and throws
 * BadValue for a bad one. It may read other variables of `env` for a rule between them.
 */
export function custom<T, D = T>(
  spec: Declared<NoInfer<T & Literal> | Computed<D>> & { parse: (value: string, env: Env) => T },
): Setting<T | D> {
  const { name, default: fallback, parse } = spec;
  return new Setting([documented(spec)], (env) => {
    const value = nonEmpty(env[name]);
    if (value === undefined) return fallback instanceof Computed ? fallback.value(env) : fallback;
    return blame(name, () => parse(value, env));
  });
}

/** A whole number from `min` to `max`; `unit`, if given, is named in the messages. */
export function integer<D = number>(
  spec: Declared<number | Computed<D>> & { min: number; max: number; unit?: string },
): Setting<number | D> {
  const { min, max, unit = '' } = spec;
  return custom({
    values: `${min}–${max}`,
    ...spec,
    parse: (value) => {
      if (!/^\d+$/.test(value)) throw new BadValue(`must be a whole number${unit && ` of ${unit}`}, got "${value}"`);
      const number = Number(value);
      if (number < min || number > max) throw new BadValue(`must be between ${min} and ${max}${unit && ` ${unit}`}, got ${number}`);
      return number;
    },
  });
}

/** `true` or `false`, nothing else. */
export function boolean(spec: Declared<boolean>): Setting<boolean> {
  return custom({
    values: '`true`, `false`',
    ...spec,
    parse: (value) => {
      if (value === 'true') return true;
      if (value === 'false') return false;
      throw new BadValue(`must be true or false, got "${value}"`);
    },
  });
}

/** One of `choices`, written exactly so. */
export function choice<C extends string>(spec: Declared<NoInfer<C>> & { choices: readonly C[] }): Setting<C> {
  const { choices } = spec;
  return custom({
    values: choices.map((choice) => `\`${choice}\``).join(', '),
    ...spec,
    parse: (value) => {
      const found = choices.find((known) => known === value);
      if (found === undefined) throw new BadValue(`must be one of ${choices.join(', ')}, got "${value}"`);
      return found;
    },
  });
}

/** Any text. */
export function text(spec: Declared<string>): Setting<string> {
  return custom({ ...spec, parse: (value) => value });
}

/** The same variable, in milliseconds where it is read in seconds. */
export function inMilliseconds(seconds: Setting<number>): Setting<number> {
  return new Setting(seconds.variables, (env) => seconds.read(env) * 1000);
}

/** An entry that reads several variables together (each documented by its own row); `read` throws ConfigErrors itself. */
export function combined<T>(spec: { variables: readonly Declared<Literal | Computed<unknown>>[]; read: (env: Env) => T }): Setting<T> {
  return new Setting(spec.variables.map(documented), spec.read);
}

/** Runs `parse`, turning a BadValue into a ConfigError naming `variable`. */
export function blame<T>(variable: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof BadValue) throw new ConfigError(variable, error.message);
    throw error;
  }
}

/** The value without surrounding spaces, or undefined for unset, empty or blank. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function documented({ name, doc, values = '', default: fallback }: Declared<Literal | Computed<unknown>>): Variable {
  return { name, doc, values, documentedDefault: fallback instanceof Computed ? fallback.documented : `\`${fallback}\`` };
}
