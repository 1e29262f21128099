import { useEffect, useState } from 'react';
import type { Api } from '../api';
import { problemMessage } from '../format';

/** One page of a list, as the admin API answers it. */
interface Page<Item> {
  items: Item[];
  next_cursor: string | null;
}

/** A list's state (anything else than the current query string's answer is still loading). */
export type PageState<Item> =
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'ready'; items: Item[]; next: string | null };

/** What a list screen asks the admin API for, from its query string; a module-level function, so that it stays the same. */
export type PageFetcher<Item> = (api: Api, params: URLSearchParams) => Promise<{ data?: Page<Item>; error?: unknown }>;

type Loaded<Item> = Exclude<PageState<Item>, { kind: 'loading' }> & { for: string };

/**
 * The page of a list screen for its query string (`search`), fetched again when the query
 * string changes or `reload` counts up. An answer that comes back after the query string
 * has changed is dropped, so the screen never shows the results of earlier filters.
 */
export function usePage<Item>(api: Api, search: string, fetchPage: PageFetcher<Item>, what: string, reload = 0): PageState<Item> {
  const [loaded, setLoaded] = useState<Loaded<Item> | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload is a counter whose change means "fetch again"
  useEffect(() => {
    let live = true;
    fetchPage(api, new URLSearchParams(search))
      .then(({ data, error }) => {
        if (!live) return;
        if (data === undefined)
          setLoaded({ kind: 'error', message: problemMessage(error, `The ${what} could not be loaded.`), for: search });
        else setLoaded({ kind: 'ready', items: data.items, next: data.next_cursor, for: search });
      })
      .catch(
        () => live && setLoaded({ kind: 'error', message: `The ${what} could not be loaded: Portier is not reachable.`, for: search }),
      );
    return () => {
      live = false;
    };
  }, [api, search, fetchPage, what, reload]);

  return loaded !== null && loaded.for === search ? loaded : { kind: 'loading' };
}
