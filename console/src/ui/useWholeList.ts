import { useCallback, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api } from '../api';
import type { MessageId } from '../i18n/messages';
import { explainProblem } from '../i18n/problems';

/** What a list screen asks the admin API for: the whole list, in one answer; a module-level function, so that it stays the same. */
export type WholeListFetcher<Item> = (api: Api) => Promise<{ data?: { items: Item[] }; error?: unknown }>;

/**
 * A list the admin API answers whole (the services, the trusted issuers), for its screen
 * titled `title`: null until it has loaded, and `reload` to fetch it again (after a change).
 * `failed` says it could not be loaded ("The services could not be loaded.").
 */
export function useWholeList<Item>(api: Api, fetchList: WholeListFetcher<Item>, failed: MessageId, title: MessageId) {
  const [items, setItems] = useState<Item[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const intl = useIntl();

  const reload = useCallback(async () => {
    try {
      const { data, error } = await fetchList(api);
      if (data === undefined) setLoadError(explainProblem(intl, error, intl.formatMessage({ id: failed })));
      else setItems(data.items);
    } catch (thrown) {
      setLoadError(explainProblem(intl, thrown, intl.formatMessage({ id: failed })));
    }
  }, [api, fetchList, failed, intl]);

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: intl.formatMessage({ id: title }) });
    void reload();
  }, [reload, title, intl]);

  return { items, loadError, reload };
}
