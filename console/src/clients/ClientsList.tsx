import { useEffect, useState } from 'react';
import type { Api, Client, ClientQuery } from '../api';
import { Link, useRouter } from '../router';
import { useServices } from '../services/useServices';
import { Pager } from '../ui/Pager';
import { LoadStatus } from '../ui/StatusLines';
import { type PageFetcher, usePage } from '../ui/usePage';
import { BulkBar, useBulkSelection } from './BulkBar';
import { ClientFilters } from './ClientFilters';
import { ClientsTable } from './ClientsTable';

const PAGE_SIZE = 25;

/** The admin API's query for the list's query string: the filters, the page, and a page size of 1 to 100. */
function clientQuery(params: URLSearchParams): ClientQuery {
  const query: ClientQuery = { limit: PAGE_SIZE };
  for (const name of ['name', 'owner', 'service', 'cursor'] as const) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  const limit = Number(params.get('limit'));
  if (Number.isInteger(limit) && limit >= 1 && limit <= 100) query.limit = limit;
  const status = params.get('status');
  if (status === 'active' || status === 'disabled' || status === 'expired') query.status = status;
  return query;
}

const fetchClients: PageFetcher<Client> = (api, params) => api.GET('/admin/clients', { params: { query: clientQuery(params) } });

/** /console/clients: the clients, filtered by the query string (so that Back returns to the previous filters). */
/** `mine`: an operator's list, which holds their own clients only (the admin API sees to it). */
export function ClientsList({ api, canWrite, mine }: { api: Api; canWrite: boolean; mine: boolean }) {
  const { location } = useRouter();
  const search = location.search.toString();
  const [reload, setReload] = useState(0);
  const fetchAgain = () => setReload((n) => n + 1);
  const state = usePage(api, search, fetchClients, 'clients', reload);
  const services = useServices(api);
  const bulk = useBulkSelection(api, fetchAgain);

  useEffect(() => {
    document.title = `${mine ? 'My clients' : 'Clients'} · Portier console`;
  }, [mine]);

  const filtered = search.replace(/(^|&)cursor=[^&]*/, '') !== '';
  return (
    <section aria-labelledby="clients-heading">
      <div className="heading-row">
        <h1 id="clients-heading">{mine ? 'My clients' : 'Clients'}</h1>
        {canWrite && (
          <Link to="/clients/new" className="button">
            New client
          </Link>
        )}
      </div>
      <ClientFilters services={services} byOwner={!mine} />
      {canWrite && state.kind === 'ready' && state.items.length > 0 && <BulkBar bulk={bulk} />}
      <LoadStatus
        error={state.kind === 'error' ? state.message : null}
        loaded={state.kind === 'ready'}
        loadingText="Loading clients…"
        onRetry={fetchAgain}
      />
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          {filtered ? 'No clients match these filters.' : 'No clients yet.'}
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && <ClientsTable clients={state.items} canWrite={canWrite} bulk={bulk} />}
      {state.kind === 'ready' && <Pager path="/clients" next={state.next} />}
    </section>
  );
}
