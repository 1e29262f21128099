import { useCallback, useEffect, useState } from 'react';
import type { Api } from '../api';
import { problemMessage } from '../format';

/** What a list screen asks the admin API for: the whole list, in one answer; a module-level function, so that it stays the same. */
export type WholeListFetcher<Item> = (api: Api) => Promise<{ data?: { items: Item[] }; error?: unknown }>;

/**
 * A list the admin API answers whole (the services, the trusted issuers), for its screen
 * titled `title`: null until it has loaded, and `reload` to fetch it again (after a change).
 * `what` names it in the error ("The services could not be loaded.").
 */
export function useWholeList<Item>(api: Api, fetchList: WholeListFetcher<Item>, what: string, title: string) {
  const [items, setItems] = useState<Item[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      const { data, error } = await fetchList(api);
      if (data === undefined) setLoadError(problemMessage(error, `The ${what} could not be loaded.`));
      else setItems(data.items);
    } catch {
      setLoadError(`The ${what} could not be loaded: Portier is not reachable.`);
    }
  }, [api, fetchList, what]);

  useEffect(() => {
    document.title = `${title} · Portier console`;
    void reload();
  }, [reload, title]);

  return { items, loadError, reload };
}
