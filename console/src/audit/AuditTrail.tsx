import { useEffect } from 'react';
import type { Api, AuditEvent, AuditQuery } from '../api';
import { useRouter } from '../router';
import { Pager } from '../ui/Pager';
import { LoadStatus } from '../ui/StatusLines';
import { type PageFetcher, usePage } from '../ui/usePage';
import { AuditFilters } from './AuditFilters';
import { AuditTable } from './AuditTable';

/** The admin API's query for the trail's query string: the filters and the page, 50 events a page. */
function auditQuery(params: URLSearchParams): AuditQuery {
  const query: AuditQuery = { limit: 50 };
  for (const name of ['action', 'client_id', 'actor_client_id', 'since', 'until', 'cursor'] as const) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  return query;
}

const fetchEvents: PageFetcher<AuditEvent> = (api, params) => api.GET('/admin/audit-events', { params: { query: auditQuery(params) } });

/** /console/audit: the audit trail, filtered by the query string. */
export function AuditTrail({ api }: { api: Api }) {
  const { location } = useRouter();
  const state = usePage(api, location.search.toString(), fetchEvents, 'audit trail');

  useEffect(() => {
    document.title = 'Audit trail · Portier console';
  }, []);

  return (
    <section aria-labelledby="audit-heading">
      <h1 id="audit-heading">Audit trail</h1>
      <AuditFilters />
      <LoadStatus error={state.kind === 'error' ? state.message : null} loaded={state.kind === 'ready'} loadingText="Loading events…" />
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          No events match these filters.
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && <AuditTable events={state.items} withClient />}
      {state.kind === 'ready' && <Pager path="/audit" next={state.next} />}
    </section>
  );
}
