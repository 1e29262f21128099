import { useIntl } from 'react-intl';
import type { AuditEvent } from '../api';
import { AuditTable } from '../audit/AuditTable';

/** A client's recorded events (null: still loading). */
export function ClientHistory({ events }: { events: AuditEvent[] | null }) {
  const intl = useIntl();
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">{intl.formatMessage({ id: 'history.heading' })}</h2>
      {events === null && <p className="muted">{intl.formatMessage({ id: 'history.loading' })}</p>}
      {events !== null && events.length === 0 && <p className="muted">{intl.formatMessage({ id: 'history.none' })}</p>}
      {events !== null && events.length > 0 && <AuditTable events={events} />}
    </section>
  );
}
