import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client, ClientQuery } from '../api';
import { DAY_MS } from '../format';
import { explainProblem } from '../i18n/problems';
import { Link, useRouter } from '../router';
import { useServices } from '../services/useServices';
import { Pager } from '../ui/Pager';
import { LoadStatus } from '../ui/StatusLines';
import { type PageFetcher, usePage } from '../ui/usePage';
import { BulkBar, useBulkSelection } from './BulkBar';
import { ClientFilters, EXPIRY_WINDOWS, UNUSED_WINDOWS } from './ClientFilters';
import { ClientsTable } from './ClientsTable';
import { ExpiringSoon } from './ExpiringSoon';

const PAGE_SIZE = 25;
const SORTS = ['name', 'owner', 'created_at', 'last_used_at', 'expires_at'] as const;

/** The admin API's query for the list's query string: the filters, the sort, the page, and a page size of 1 to 100. */
export function clientQuery(params: URLSearchParams, now = Date.now()): ClientQuery {
  const query: ClientQuery = { limit: PAGE_SIZE };
  for (const name of ['name', 'owner', 'service', 'created_by', 'cursor'] as const) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  const limit = Number(params.get('limit'));
  if (Number.isInteger(limit) && limit >= 1 && limit <= 100) query.limit = limit;
  const status = params.get('status');
  if (status === 'active' || status === 'disabled' || status === 'expired') query.status = status;
  // "expires within 7 days" (the client or one of its credentials) and "unused for 90 days":
  // from now, so the same link shows what needs attention whenever it is opened.
  const within = EXPIRY_WINDOWS.find((days) => params.get('expires_within') === String(days));
  if (within !== undefined) query.expiring_before = new Date(now + within * DAY_MS).toISOString();
  const unused = UNUSED_WINDOWS.find((days) => params.get('unused_for') === String(days));
  if (unused !== undefined) query.unused_since = new Date(now - unused * DAY_MS).toISOString();
  const sort = params.get('sort') ?? '';
  if ((SORTS as readonly string[]).includes(sort.replace(/^-/, ''))) query.sort = sort as ClientQuery['sort'];
  return query;
}

const fetchClients: PageFetcher<Client> = (api, params) => api.GET('/admin/clients', { params: { query: clientQuery(params) } });

/** What the row switch last did, for its undo. */
interface Switched {
  clientId: string;
  enabled: boolean;
}

/** /console/clients: the clients, filtered and sorted by the query string (so that Back returns to the previous list). */
/** `mine`: an operator's list, which holds their own clients only (the admin API sees to it). */
export function ClientsList({ api, canWrite, mine }: { api: Api; canWrite: boolean; mine: boolean }) {
  const intl = useIntl();
  const { location } = useRouter();
  const search = location.search.toString();
  const [reload, setReload] = useState(0);
  const fetchAgain = () => setReload((n) => n + 1);
  const state = usePage(api, search, fetchClients, 'clients.loadFailed', reload);
  const services = useServices(api);
  const bulk = useBulkSelection(api, fetchAgain);
  const [switched, setSwitched] = useState<Switched | null>(null);
  const [switchError, setSwitchError] = useState<string | null>(null);
  const heading = intl.formatMessage({ id: mine ? 'nav.myClients' : 'nav.clients' });

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: heading });
  }, [heading, intl]);

  /** The row switch: enables or disables at once (audited as any other change), with an undo. */
  const setEnabled = async (clientId: string, enabled: boolean, undoable: boolean) => {
    setSwitchError(null);
    const action = enabled ? 'enable' : 'disable';
    const { error } = await api.POST(`/admin/clients/{client_id}/${action}`, { params: { path: { client_id: clientId } } });
    if (error !== undefined) {
      setSwitchError(explainProblem(intl, error, intl.formatMessage({ id: 'clients.switchFailed' }, { client: clientId })));
      return;
    }
    setSwitched(undoable ? { clientId, enabled } : null);
    fetchAgain();
  };

  const filtered = search.replace(/(^|&)(cursor|sort)=[^&]*/g, '') !== '';
  return (
    <section aria-labelledby="clients-heading">
      <div className="heading-row">
        <h1 id="clients-heading">{heading}</h1>
        {canWrite && (
          <Link to="/clients/new" className="button">
            {intl.formatMessage({ id: 'clients.new' })}
          </Link>
        )}
      </div>
      <ExpiringSoon api={api} reload={reload} />
      <ClientFilters services={services} byOwner={!mine} />
      {canWrite && state.kind === 'ready' && state.items.length > 0 && <BulkBar bulk={bulk} />}
      {switched !== null && (
        <p className="notice" role="status">
          {intl.formatMessage({ id: switched.enabled ? 'clients.switchedOn' : 'clients.switchedOff' }, { client: switched.clientId })}{' '}
          <button type="button" className="link" onClick={() => void setEnabled(switched.clientId, !switched.enabled, false)}>
            {intl.formatMessage({ id: 'clients.undo' })}
          </button>
        </p>
      )}
      {switchError !== null && (
        <p className="error" role="alert">
          {switchError}
        </p>
      )}
      <LoadStatus
        error={state.kind === 'error' ? state.message : null}
        loaded={state.kind === 'ready'}
        loadingText={intl.formatMessage({ id: 'clients.loading' })}
        onRetry={fetchAgain}
      />
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          {intl.formatMessage({ id: filtered ? 'clients.noMatch' : 'clients.none' })}
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && (
        <ClientsTable
          clients={state.items}
          canWrite={canWrite}
          bulk={bulk}
          onSwitch={(client) => void setEnabled(client.client_id, !client.enabled, true)}
        />
      )}
      {state.kind === 'ready' && <Pager path="/clients" next={state.next} />}
    </section>
  );
}
