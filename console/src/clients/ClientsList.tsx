import { type FormEvent, useEffect, useState } from 'react';
import type { Api, BulkResult, Client, ClientQuery, Service } from '../api';
import { exactTime, problemMessage, relativeTime } from '../format';
import { Link, useRouter } from '../router';

const FILTERS = ['name', 'owner', 'status', 'service'] as const;
const STATUSES = ['active', 'disabled', 'expired'] as const;
const PAGE_SIZE = 25;

/** A list's state, and the query string it belongs to (anything else is still loading). */
type State =
  | { kind: 'loading' }
  | { kind: 'error'; message: string; for: string }
  | { kind: 'ready'; items: Client[]; next: string | null; for: string };

/** /console/clients: the clients, filtered by the query string (so that Back returns to the previous filters). */
export function ClientsList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const { location, navigate } = useRouter();
  const search = location.search.toString();
  const [loaded, setState] = useState<State>({ kind: 'loading' });
  const state: State = loaded.kind !== 'loading' && loaded.for === search ? loaded : { kind: 'loading' };
  const [services, setServices] = useState<Service[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [results, setResults] = useState<Map<string, BulkResult>>(new Map());
  const [bulkError, setBulkError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    document.title = 'Clients · Portier console';
    void api.GET('/admin/services').then(({ data }) => setServices(data?.items ?? []));
  }, [api]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload is a counter whose change means "fetch again"
  useEffect(() => {
    const params = new URLSearchParams(search);
    const query: ClientQuery = { limit: PAGE_SIZE };
    for (const name of ['name', 'owner', 'service', 'cursor'] as const) {
      const value = params.get(name);
      if (value) query[name] = value;
    }
    const limit = Number(params.get('limit'));
    if (Number.isInteger(limit) && limit >= 1 && limit <= 100) query.limit = limit;
    const status = params.get('status');
    if (status === 'active' || status === 'disabled' || status === 'expired') query.status = status;
    let live = true;
    api
      .GET('/admin/clients', { params: { query } })
      .then(({ data, error }) => {
        if (!live) return;
        if (data === undefined)
          setState({ kind: 'error', message: problemMessage(error, 'The clients could not be loaded.'), for: search });
        else setState({ kind: 'ready', items: data.items, next: data.next_cursor, for: search });
      })
      .catch(() => live && setState({ kind: 'error', message: 'The clients could not be loaded: Portier is not reachable.', for: search }));
    return () => {
      live = false;
    };
  }, [api, search, reload]);

  const applyFilters = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(form.get(name) ?? '').trim();
      if (value !== '') params.set(name, value);
    }
    const query = params.toString();
    navigate(`/clients${query ? `?${query}` : ''}`);
  };

  const withCursor = (cursor: string | null) => {
    const params = new URLSearchParams(search);
    if (cursor === null) params.delete('cursor');
    else params.set('cursor', cursor);
    const query = params.toString();
    return `/clients${query ? `?${query}` : ''}`;
  };

  const bulk = async (action: 'enable' | 'disable') => {
    setBulkError(null);
    const { data, error } = await api.POST('/admin/clients/bulk', { body: { action, client_ids: [...selected] } });
    if (data === undefined) {
      setBulkError(problemMessage(error));
      return;
    }
    setResults(new Map(data.results.map((result) => [result.client_id, result])));
    setSelected(new Set());
    setReload((n) => n + 1);
  };

  const toggle = (clientId: string) => {
    const next = new Set(selected);
    if (next.has(clientId)) next.delete(clientId);
    else next.add(clientId);
    setSelected(next);
  };

  const params = location.search;
  return (
    <section aria-labelledby="clients-heading">
      <div className="heading-row">
        <h1 id="clients-heading">Clients</h1>
        {canWrite && (
          <Link to="/clients/new" className="button">
            New client
          </Link>
        )}
      </div>
      <form className="filters" onSubmit={applyFilters} key={search} aria-label="Filter clients">
        <div className="field">
          <label htmlFor="filter-name">Name</label>
          <input id="filter-name" name="name" defaultValue={params.get('name') ?? ''} />
        </div>
        <div className="field">
          <label htmlFor="filter-owner">Owner</label>
          <input id="filter-owner" name="owner" defaultValue={params.get('owner') ?? ''} />
        </div>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" name="status" defaultValue={params.get('status') ?? ''}>
            <option value="">Any</option>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-service">Service</label>
          <select id="filter-service" name="service" defaultValue={params.get('service') ?? ''}>
            <option value="">Any</option>
            {services.map((service) => (
              <option key={service.id} value={service.id}>
                {service.name} ({service.id})
              </option>
            ))}
            {params.get('service') && !services.some((s) => s.id === params.get('service')) && (
              <option value={params.get('service') ?? ''}>{params.get('service')}</option>
            )}
          </select>
        </div>
        <div className="field actions">
          <button type="submit">Apply filters</button>
        </div>
      </form>

      {canWrite && state.kind === 'ready' && state.items.length > 0 && (
        <fieldset className="bulk" aria-label="Selected clients">
          <legend>Selected: {selected.size}</legend>
          <button type="button" className="secondary" disabled={selected.size === 0} onClick={() => void bulk('enable')}>
            Enable selected
          </button>
          <button type="button" className="secondary" disabled={selected.size === 0} onClick={() => void bulk('disable')}>
            Disable selected
          </button>
          {bulkError !== null && (
            <p className="error" role="alert">
              {bulkError}
            </p>
          )}
        </fieldset>
      )}

      {state.kind === 'loading' && (
        <p role="status" className="muted">
          Loading clients…
        </p>
      )}
      {state.kind === 'error' && (
        <div role="alert" className="error">
          <p>{state.message}</p>
          <button type="button" className="secondary" onClick={() => setReload((n) => n + 1)}>
            Retry
          </button>
        </div>
      )}
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          {search.replace(/(^|&)cursor=[^&]*/, '') === '' ? 'No clients yet.' : 'No clients match these filters.'}
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && (
        <table className="clients">
          <thead>
            <tr>
              {canWrite && (
                <th scope="col">
                  <span className="visually-hidden">Select</span>
                </th>
              )}
              <th scope="col">Name</th>
              <th scope="col">Client ID</th>
              <th scope="col">Owner</th>
              <th scope="col">Status</th>
              <th scope="col">Services</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              {results.size > 0 && <th scope="col">Bulk result</th>}
            </tr>
          </thead>
          <tbody>
            {state.items.map((client) => {
              const result = results.get(client.client_id);
              return (
                <tr key={client.client_id}>
                  {canWrite && (
                    <td data-label="Select">
                      <input
                        type="checkbox"
                        aria-label={`Select ${client.client_id}`}
                        checked={selected.has(client.client_id)}
                        onChange={() => toggle(client.client_id)}
                      />
                    </td>
                  )}
                  <td data-label="Name">
                    <Link to={`/clients/${encodeURIComponent(client.client_id)}`}>{client.name}</Link>
                  </td>
                  <td data-label="Client ID">
                    <code>{client.client_id}</code>
                  </td>
                  <td data-label="Owner">{client.owner}</td>
                  <td data-label="Status">
                    <span className={`status status-${client.status}`}>{client.status}</span>
                  </td>
                  <td data-label="Services">{client.grants.map((grant) => grant.service).join(', ') || '—'}</td>
                  <td data-label="Last used">
                    {client.last_used_at === null ? (
                      'never'
                    ) : (
                      <time dateTime={client.last_used_at} title={exactTime(client.last_used_at)}>
                        {relativeTime(client.last_used_at)}
                      </time>
                    )}
                  </td>
                  <td data-label="Expires">
                    {client.expires_at === null ? (
                      'never'
                    ) : (
                      <time dateTime={client.expires_at} title={exactTime(client.expires_at)}>
                        {exactTime(client.expires_at)}
                      </time>
                    )}
                  </td>
                  {results.size > 0 && (
                    <td data-label="Bulk result">
                      {result === undefined ? '' : result.ok ? `done (${result.status ?? ''})` : `failed: ${result.error ?? ''}`}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {state.kind === 'ready' && (
        <nav className="pager" aria-label="Pages">
          {location.search.has('cursor') && <Link to={withCursor(null)}>First page</Link>}
          {state.next !== null && <Link to={withCursor(state.next)}>Next page</Link>}
        </nav>
      )}
    </section>
  );
}
