import { type FormEvent, useEffect, useState } from 'react';
import type { Api, AuditEvent, AuditQuery } from '../api';
import { exactTime, problemMessage, relativeTime, toLocalInput } from '../format';
import { Link, useRouter } from '../router';

const FILTERS = ['action', 'client_id', 'actor_client_id'] as const;
const TIMES = ['since', 'until'] as const;

/** A list's state, and the query string it belongs to (anything else is still loading). */
type State =
  | { kind: 'loading' }
  | { kind: 'error'; message: string; for: string }
  | { kind: 'ready'; items: AuditEvent[]; next: string | null; for: string };

/** "2026-01-01T10:00" (datetime-local, local time) to ISO 8601 (toLocalInput goes back). */
const toIso = (local: string) => (local === '' || Number.isNaN(new Date(local).getTime()) ? '' : new Date(local).toISOString());

/** /console/audit: the audit trail, filtered by the query string. */
export function AuditTrail({ api }: { api: Api }) {
  const { location, navigate } = useRouter();
  const search = location.search.toString();
  const [loaded, setState] = useState<State>({ kind: 'loading' });
  const state: State = loaded.kind !== 'loading' && loaded.for === search ? loaded : { kind: 'loading' };

  useEffect(() => {
    document.title = 'Audit trail · Portier console';
    const params = new URLSearchParams(search);
    const query: AuditQuery = { limit: 50 };
    for (const name of [...FILTERS, ...TIMES, 'cursor'] as const) {
      const value = params.get(name);
      if (value) query[name] = value;
    }
    let live = true;
    api
      .GET('/admin/audit-events', { params: { query } })
      .then(({ data, error }) => {
        if (!live) return;
        if (data === undefined)
          setState({ kind: 'error', message: problemMessage(error, 'The audit trail could not be loaded.'), for: search });
        else setState({ kind: 'ready', items: data.items, next: data.next_cursor, for: search });
      })
      .catch(
        () => live && setState({ kind: 'error', message: 'The audit trail could not be loaded: Portier is not reachable.', for: search }),
      );
    return () => {
      live = false;
    };
  }, [api, search]);

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(form.get(name) ?? '').trim();
      if (value !== '') params.set(name, value);
    }
    for (const name of TIMES) {
      const value = toIso(String(form.get(name) ?? ''));
      if (value !== '') params.set(name, value);
    }
    const query = params.toString();
    navigate(`/audit${query ? `?${query}` : ''}`);
  };

  const next = (cursor: string) => {
    const params = new URLSearchParams(search);
    params.set('cursor', cursor);
    return `/audit?${params.toString()}`;
  };
  const params = location.search;

  return (
    <section aria-labelledby="audit-heading">
      <h1 id="audit-heading">Audit trail</h1>
      <form className="filters" onSubmit={apply} key={search} aria-label="Filter events">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input id="audit-action" name="action" placeholder="client.updated" defaultValue={params.get('action') ?? ''} />
        </div>
        <div className="field">
          <label htmlFor="audit-client">Client ID</label>
          <input id="audit-client" name="client_id" defaultValue={params.get('client_id') ?? ''} />
        </div>
        <div className="field">
          <label htmlFor="audit-actor">By (admin client ID)</label>
          <input id="audit-actor" name="actor_client_id" defaultValue={params.get('actor_client_id') ?? ''} />
        </div>
        <div className="field">
          <label htmlFor="audit-since">Since</label>
          <input id="audit-since" name="since" type="datetime-local" defaultValue={toLocalInput(params.get('since'))} />
        </div>
        <div className="field">
          <label htmlFor="audit-until">Until</label>
          <input id="audit-until" name="until" type="datetime-local" defaultValue={toLocalInput(params.get('until'))} />
        </div>
        <div className="field actions">
          <button type="submit">Apply filters</button>
        </div>
      </form>
      {state.kind === 'loading' && (
        <p role="status" className="muted">
          Loading events…
        </p>
      )}
      {state.kind === 'error' && (
        <p role="alert" className="error">
          {state.message}
        </p>
      )}
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          No events match these filters.
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && <AuditTable events={state.items} withClient />}
      {state.kind === 'ready' && (
        <nav className="pager" aria-label="Pages">
          {params.has('cursor') && (
            <Link
              to={`/audit?${(() => {
                const first = new URLSearchParams(search);
                first.delete('cursor');
                return first.toString();
              })()}`}
            >
              First page
            </Link>
          )}
          {state.next !== null && <Link to={next(state.next)}>Next page</Link>}
        </nav>
      )}
    </section>
  );
}

/** Audit events as a table: the trail's page, or one client's history (without the client column). */
export function AuditTable({ events, withClient = false }: { events: AuditEvent[]; withClient?: boolean }) {
  return (
    <table className="audit">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Action</th>
          {withClient && <th scope="col">Client</th>}
          <th scope="col">By</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.id}>
            <td data-label="When">
              <time dateTime={event.at} title={exactTime(event.at)}>
                {relativeTime(event.at)}
              </time>
            </td>
            <td data-label="Action">
              <code>{event.action}</code>
              {event.count > 1 ? ` ×${event.count}` : ''}
            </td>
            {withClient && (
              <td data-label="Client">
                {event.client_id === null ? '—' : <Link to={`/clients/${encodeURIComponent(event.client_id)}`}>{event.client_id}</Link>}
              </td>
            )}
            <td data-label="By">
              {event.actor.client_id ?? event.actor.sub ?? '—'}
              {event.actor.ip ? ` (${event.actor.ip})` : ''}
            </td>
            <td data-label="Details">
              <code className="details-json">{JSON.stringify(event.details)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
