import { useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, BulkResult } from '../api';
import { explainProblem } from '../i18n/problems';

/** The clients ticked in the list, and what the last bulk action did to each. */
export interface BulkSelection {
  selected: Set<string>;
  toggle: (clientId: string) => void;
  /** Select exactly these (the page's "select all" box). */
  setSelected: (clientIds: string[]) => void;
  /** The last bulk action's result, by client ID (empty before the first). */
  results: Map<string, BulkResult>;
  error: string | null;
  apply: (action: 'enable' | 'disable') => Promise<void>;
}

/** The bulk selection of the clients list; `onDone` runs after a bulk action, to reload the list. */
export function useBulkSelection(api: Api, onDone: () => void): BulkSelection {
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [results, setResults] = useState<Map<string, BulkResult>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const intl = useIntl();

  const toggle = (clientId: string) => {
    const next = new Set(selected);
    if (next.has(clientId)) next.delete(clientId);
    else next.add(clientId);
    setSelected(next);
  };

  const apply = async (action: 'enable' | 'disable') => {
    setError(null);
    const failed = intl.formatMessage({ id: 'bulk.failed' });
    const answer = await api
      .POST('/admin/clients/bulk', { body: { action, client_ids: [...selected] } })
      .catch((thrown: unknown) => ({ thrown }));
    if ('thrown' in answer || answer.data === undefined) {
      setError(explainProblem(intl, 'thrown' in answer ? answer.thrown : answer.error, failed));
      return;
    }
    const { data } = answer;
    setResults(new Map(data.results.map((result) => [result.client_id, result])));
    setSelected(new Set());
    onDone();
  };

  return { selected, toggle, setSelected: (clientIds) => setSelected(new Set(clientIds)), results, error, apply };
}

/** Enable or disable the ticked clients at once. */
export function BulkBar({ bulk }: { bulk: BulkSelection }) {
  const intl = useIntl();
  const none = bulk.selected.size === 0;
  return (
    <fieldset className="bulk" aria-label={intl.formatMessage({ id: 'bulk.label' })}>
      <legend>{intl.formatMessage({ id: 'bulk.selected' }, { count: bulk.selected.size })}</legend>
      <button type="button" className="secondary" disabled={none} onClick={() => void bulk.apply('enable')}>
        {intl.formatMessage({ id: 'bulk.enable' })}
      </button>
      <button type="button" className="secondary" disabled={none} onClick={() => void bulk.apply('disable')}>
        {intl.formatMessage({ id: 'bulk.disable' })}
      </button>
      {bulk.error !== null && (
        <p className="error" role="alert">
          {bulk.error}
        </p>
      )}
    </fieldset>
  );
}
