import type { FieldError } from '../lib/errors.js';
import { CONFIG_ID_FIELDS, type ConfigChange } from '../schemas/config.js';
import type { ConfigKindHandler, CurrentObject, Entry } from './kinds.js';

/**
 * What an apply would do, worked out from the objects as they are and the document,
 * without touching anything. The rules:
 *
 * - an entry whose id names no object is a create;
 * - an entry whose id names an object is an update of the fields it gives that differ from
 *   the object's (a field left out stays as it is, as with PATCH); none differing: nothing;
 * - with prune, an object that an earlier apply created (managed) and that the document
 *   no longer lists is deleted. Objects made through the API, the console or the CLI, and
 *   the built-in portier-admin, are never deleted;
 * - the order of lists does not matter: `roles: [a, b]` is `roles: [b, a]`.
 */

/** One entry of the document, with where it is in it (`clients[3]`). */
export interface DesiredEntry {
  id: string;
  entry: Entry;
  place: string;
}

export interface PlannedStep {
  handler: ConfigKindHandler;
  change: ConfigChange;
  /** Where the entry is in the document (`clients[3]`), or the list a pruned object was in. */
  place: string;
  /** create: the entry; update: the changed fields. */
  values: Entry;
  /** The object as it is (update). */
  current?: Entry;
}

export function planChanges(
  kinds: readonly ConfigKindHandler[],
  current: ReadonlyMap<ConfigKindHandler, CurrentObject[]>,
  desired: ReadonlyMap<ConfigKindHandler, DesiredEntry[]>,
  options: { prune: boolean },
): { steps: PlannedStep[]; errors: FieldError[] } {
  const steps: PlannedStep[] = [];
  // Deletions come last, and kind by kind in the reverse order (a client before the service it was granted).
  const deletions: PlannedStep[] = [];
  const errors: FieldError[] = [];
  for (const handler of kinds) {
    const existing = new Map((current.get(handler) ?? []).map((object) => [object.id, object]));
    const wanted = desired.get(handler) ?? [];
    const idField = CONFIG_ID_FIELDS[handler.section];
    for (const { id, entry, place } of wanted) {
      const object = existing.get(id);
      if (object === undefined) {
        const fields = Object.keys(entry).filter((field) => field !== idField);
        steps.push({ handler, change: { op: 'create', kind: handler.kind, id, fields }, place, values: entry });
      } else if (object.builtIn) {
        errors.push({ path: `${place}.${idField}`, message: `"${id}" is built in and cannot be configured` });
      } else {
        const changed = Object.keys(entry).filter((field) => field !== idField && !sameValue(entry[field], object.entry[field]));
        if (changed.length === 0) continue;
        const values = Object.fromEntries(changed.map((field) => [field, entry[field]]));
        steps.push({ handler, change: { op: 'update', kind: handler.kind, id, fields: changed }, place, values, current: object.entry });
      }
    }
    if (!options.prune) continue;
    const listed = new Set(wanted.map((entry) => entry.id));
    const pruned = [...existing.values()].filter((object) => object.managed && !object.builtIn && !listed.has(object.id));
    deletions.unshift(
      ...pruned.map((object) => ({
        handler,
        change: { op: 'delete' as const, kind: handler.kind, id: object.id, fields: [] },
        place: handler.section,
        values: {},
      })),
    );
  }
  return { steps: [...steps, ...deletions], errors };
}

/**
 * Whether two values of a field are the same: objects by their members, whatever their
 * order, and lists as sets (`["b", "a"]` is `["a", "b"]`).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .map(canonical)
      .map((item) => [JSON.stringify(item), item] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, item]) => item);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, member]) => member !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, member]) => [key, canonical(member)]),
    );
  }
  return value ?? null;
}
