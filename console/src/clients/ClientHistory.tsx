import type { AuditEvent } from '../api';
import { AuditTable } from '../audit/AuditTable';

/** A client's recorded events (null: still loading). */
export function ClientHistory({ events }: { events: AuditEvent[] | null }) {
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      {events === null && <p className="muted">Loading history…</p>}
      {events !== null && events.length === 0 && <p className="muted">No recorded events.</p>}
      {events !== null && events.length > 0 && <AuditTable events={events} />}
    </section>
  );
}
