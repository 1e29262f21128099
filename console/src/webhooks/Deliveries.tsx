import { useCallback, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Delivery } from '../api';
import type { MessageId } from '../i18n/messages';
import { explainProblem } from '../i18n/problems';
import { LoadStatus } from '../ui/StatusLines';
import { Time } from '../ui/Time';

/** How many deliveries the screen shows: the most recent. */
const RECENT = 25;
const STATUS_NAMES = {
  pending: 'deliveries.pending',
  delivered: 'deliveries.delivered',
  failed: 'deliveries.failed',
} as const satisfies Record<Delivery['status'], MessageId>;

/**
 * A webhook's recent deliveries: the event, how it went (attempts, the receiver's last answer,
 * the next try), and a button to send one again. `reload`: a change of it fetches them again.
 */
export function Deliveries({ api, webhookId, reload }: { api: Api; webhookId: string; reload: number }) {
  const intl = useIntl();
  const label = (id: MessageId) => intl.formatMessage({ id });
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const { data, error: problem } = await api.GET('/admin/webhooks/{id}/deliveries', {
        params: { path: { id: webhookId }, query: { limit: RECENT } },
      });
      if (data === undefined) setError(explainProblem(intl, problem, intl.formatMessage({ id: 'actions.failed' })));
      else {
        setError(null);
        setItems(data.items);
      }
    } catch (thrown) {
      setError(explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })));
    }
  }, [api, webhookId, intl]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `reload` asks for them again
  useEffect(() => {
    void load();
  }, [load, reload]);

  const redeliver = async (delivery: Delivery) => {
    setBusy(true);
    try {
      const { error: problem } = await api.POST('/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver', {
        params: { path: { id: webhookId, delivery_id: delivery.id } },
      });
      if (problem !== undefined) setError(explainProblem(intl, problem, intl.formatMessage({ id: 'actions.failed' })));
      await load();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="deliveries-heading">
      <div className="heading-row">
        <h2 id="deliveries-heading">{label('deliveries.heading')}</h2>
        <button type="button" className="secondary" onClick={() => void load()}>
          {label('deliveries.refresh')}
        </button>
      </div>
      <LoadStatus error={error} loaded={items !== null} loadingText={label('common.loading')} />
      {items !== null && items.length === 0 && <p className="muted">{label('deliveries.none')}</p>}
      {items !== null && items.length > 0 && (
        <table className="deliveries">
          <thead>
            <tr>
              <th scope="col">{label('deliveries.event')}</th>
              <th scope="col">{label('client.status')}</th>
              <th scope="col">{label('deliveries.attempts')}</th>
              <th scope="col">{label('deliveries.lastAnswer')}</th>
              <th scope="col">{label('deliveries.nextTry')}</th>
              <th scope="col">{label('client.created')}</th>
              <th scope="col">{label('credentials.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((delivery) => (
              <tr key={delivery.id}>
                <td data-label={label('deliveries.event')}>
                  <code>{delivery.type}</code>
                </td>
                <td data-label={label('client.status')}>{label(STATUS_NAMES[delivery.status])}</td>
                <td data-label={label('deliveries.attempts')}>{delivery.attempts}</td>
                <td data-label={label('deliveries.lastAnswer')}>{delivery.last_status ?? delivery.last_error ?? '—'}</td>
                <td data-label={label('deliveries.nextTry')}>
                  {delivery.next_attempt_at === null ? '—' : <Time iso={delivery.next_attempt_at} show="relative" />}
                </td>
                <td data-label={label('client.created')}>
                  <Time iso={delivery.created_at} />
                </td>
                <td data-label={label('credentials.actions')}>
                  {delivery.status !== 'pending' && (
                    <button type="button" className="secondary" disabled={busy} onClick={() => void redeliver(delivery)}>
                      {label('deliveries.redeliver')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
