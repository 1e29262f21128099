import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api } from '../api';
import type { MessageId } from '../i18n/messages';
import { explainProblem } from '../i18n/problems';

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
 * `failed` says that the list could not be loaded (explained as i18n/problems.ts does).
 */
export function usePage<Item>(api: Api, search: string, fetchPage: PageFetcher<Item>, failed: MessageId, reload = 0): PageState<Item> {
  const [loaded, setLoaded] = useState<Loaded<Item> | null>(null);
  const intl = useIntl();

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload is a counter whose change means "fetch again"
  useEffect(() => {
    let live = true;
    fetchPage(api, new URLSearchParams(search))
      .then(({ data, error }) => {
        if (!live) return;
        if (data === undefined)
          setLoaded({ kind: 'error', message: explainProblem(intl, error, intl.formatMessage({ id: failed })), for: search });
        else setLoaded({ kind: 'ready', items: data.items, next: data.next_cursor, for: search });
      })
      .catch(
        (thrown) =>
          live && setLoaded({ kind: 'error', message: explainProblem(intl, thrown, intl.formatMessage({ id: failed })), for: search }),
      );
    return () => {
      live = false;
    };
  }, [api, search, fetchPage, failed, reload, intl]);

  return loaded !== null && loaded.for === search ? loaded : { kind: 'loading' };
}
