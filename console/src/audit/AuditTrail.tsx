import { useEffect } from 'react';
import { useIntl } from 'react-intl';
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
  for (const name of ['action', 'client_id', 'actor_client_id', 'actor', 'since', 'until', 'cursor'] as const) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  return query;
}

const fetchEvents: PageFetcher<AuditEvent> = (api, params) => api.GET('/admin/audit-events', { params: { query: auditQuery(params) } });

/** /console/audit: the audit trail, filtered by the query string. */
export function AuditTrail({ api }: { api: Api }) {
  const { location } = useRouter();
  const state = usePage(api, location.search.toString(), fetchEvents, 'audit.loadFailed');
  const intl = useIntl();
  const heading = intl.formatMessage({ id: 'nav.audit' });

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: heading });
  }, [heading, intl]);

  return (
    <section aria-labelledby="audit-heading">
      <h1 id="audit-heading">{heading}</h1>
      <AuditFilters />
      <LoadStatus
        error={state.kind === 'error' ? state.message : null}
        loaded={state.kind === 'ready'}
        loadingText={intl.formatMessage({ id: 'audit.loading' })}
      />
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          {intl.formatMessage({ id: 'audit.none' })}
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && <AuditTable events={state.items} withClient />}
      {state.kind === 'ready' && <Pager path="/audit" next={state.next} />}
    </section>
  );
}
