import { type ReactNode, useCallback, useEffect, useState } from 'react';
import type { Api, AuditEvent, Client } from '../api';
import { AuditTable } from '../audit/AuditTrail';
import { exactTime, problemMessage, relativeTime } from '../format';
import { Link, useRouter } from '../router';
import { EditClient } from './EditClient';
import { SecretDialog } from './SecretDialog';

const GRACE_PERIODS: Array<[string, number]> = [
  ['None: the old secret stops at once', 0],
  ['1 hour', 3600],
  ['1 day', 86_400],
  ['7 days', 604_800],
];

function Time({ iso, none = 'never' }: { iso: string | null; none?: string }) {
  if (iso === null) return <>{none}</>;
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {exactTime(iso)} ({relativeTime(iso)})
    </time>
  );
}

/** /console/clients/:id */
export function ClientDetail({ api, clientId, canWrite }: { api: Api; clientId: string; canWrite: boolean }) {
  const { navigate } = useRouter();
  const [client, setClient] = useState<Client | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [message, setMessage] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [grace, setGrace] = useState(0);
  const [secret, setSecret] = useState<string | null>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);

  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/clients/{client_id}', { params: { path: { client_id: clientId } } });
      if (data === undefined) setLoadError(problemMessage(error, 'The client could not be loaded.'));
      else setClient(data);
      const audit = await api.GET('/admin/audit-events', { params: { query: { client_id: clientId, limit: 50 } } });
      setEvents(audit.data?.items ?? []);
    } catch {
      setLoadError('The client could not be loaded: Portier is not reachable.');
    }
  }, [api, clientId]);

  useEffect(() => {
    document.title = `${clientId} · Portier console`;
    void load();
  }, [clientId, load]);

  const act = async (run: () => Promise<{ ok: boolean; error?: unknown }>, done: string) => {
    setBusy(true);
    setMessage(null);
    try {
      const { ok, error } = await run();
      if (ok) await load();
      setMessage(ok ? { kind: 'ok', text: done } : { kind: 'error', text: problemMessage(error) });
    } catch {
      setMessage({ kind: 'error', text: 'Portier is not reachable.' });
    } finally {
      setBusy(false);
    }
  };

  const path = { params: { path: { client_id: clientId } } };
  const setEnabled = (enable: boolean) =>
    act(
      async () => {
        const { data, error } = enable
          ? await api.POST('/admin/clients/{client_id}/enable', path)
          : await api.POST('/admin/clients/{client_id}/disable', path);
        return { ok: data !== undefined, error };
      },
      enable ? 'The client is enabled.' : 'The client is disabled: it gets no new tokens.',
    );

  const regenerate = () =>
    act(async () => {
      const { data, error } = await api.POST('/admin/clients/{client_id}/secret', {
        ...path,
        body: { previous_secret_valid_for: grace },
      });
      if (data !== undefined) setSecret(data.client_secret);
      return { ok: data !== undefined, error };
    }, 'A new secret was generated.');

  const remove = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const { response, error } = await api.DELETE('/admin/clients/{client_id}', path);
      if (response.status === 204) navigate('/clients', true);
      else setMessage({ kind: 'error', text: problemMessage(error) });
    } catch {
      setMessage({ kind: 'error', text: 'Portier is not reachable.' });
    } finally {
      setBusy(false);
    }
  };

  if (loadError !== null) {
    return (
      <section>
        <p>
          <Link to="/clients">← Clients</Link>
        </p>
        <h1>Client {clientId}</h1>
        <p className="error" role="alert">
          {loadError}
        </p>
      </section>
    );
  }
  if (client === null) {
    return (
      <p role="status" className="muted">
        Loading client…
      </p>
    );
  }

  const rows: Array<[string, ReactNode]> = [
    ['Client ID', <code key="id">{client.client_id}</code>],
    ['Name', client.name],
    ['Description', client.description || '—'],
    ['Owner', client.owner],
    [
      'Status',
      <span key="status" className={`status status-${client.status}`}>
        {client.status}
      </span>,
    ],
    ['Enabled', client.enabled ? 'yes' : 'no'],
    [
      'Grants',
      client.grants.length === 0 ? (
        'none'
      ) : (
        <ul key="grants" className="plain">
          {client.grants.map((grant) => (
            <li key={grant.service}>
              <code>{grant.service}</code>: {grant.scopes.join(' ') || '(no scopes)'}
            </li>
          ))}
        </ul>
      ),
    ],
    ['IP ranges', client.ip_ranges.join(', ') || 'anywhere'],
    ['Roles', client.roles.join(', ') || '—'],
    ['First name', client.first_name ?? '—'],
    ['Last name', client.last_name ?? '—'],
    ['Service account', `${client.service_account.username} (${client.service_account.id})`],
    ['Authentication', client.auth_method === 'client_secret' ? 'client secret' : 'private key JWT'],
    ['Expires', <Time key="expires" iso={client.expires_at} />],
    ['Last used', <Time key="last" iso={client.last_used_at} />],
    ['Created', <Time key="created" iso={client.created_at} />],
    ['Created by', client.created_by],
    ['Updated', <Time key="updated" iso={client.updated_at} />],
  ];

  return (
    <section aria-labelledby="client-heading">
      <p>
        <Link to="/clients">← Clients</Link>
      </p>
      <h1 id="client-heading">{client.name}</h1>
      {message !== null && (
        <p className={message.kind === 'ok' ? 'notice' : 'error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
      {canWrite && !editing && (
        <button type="button" className="secondary" onClick={() => setEditing(true)}>
          Edit client
        </button>
      )}
      {editing && (
        <EditClient
          api={api}
          client={client}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            setClient(saved);
            setEditing(false);
            setMessage({ kind: 'ok', text: 'Saved.' });
            void load();
          }}
        />
      )}
      <dl className="details">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>

      {canWrite && (
        <div className="panels">
          <section className="panel" aria-labelledby="status-heading">
            <h2 id="status-heading">Status</h2>
            {client.enabled ? (
              <button type="button" disabled={busy} onClick={() => void setEnabled(false)}>
                Disable client
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => void setEnabled(true)}>
                Enable client
              </button>
            )}
          </section>
          {client.auth_method === 'client_secret' && (
            <section className="panel" aria-labelledby="secret-heading">
              <h2 id="secret-heading">New secret</h2>
              <label htmlFor="grace">Old secret keeps working for</label>
              <select id="grace" value={grace} onChange={(event) => setGrace(Number(event.target.value))}>
                {GRACE_PERIODS.map(([label, seconds]) => (
                  <option key={seconds} value={seconds}>
                    {label}
                  </option>
                ))}
              </select>
              <button type="button" disabled={busy} onClick={() => void regenerate()}>
                Regenerate secret
              </button>
            </section>
          )}
          <section className="panel danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">Delete</h2>
            <p>Deleting is permanent. Type the client ID to confirm.</p>
            <label htmlFor="delete-confirm">Client ID to delete</label>
            <input id="delete-confirm" value={typed} autoComplete="off" onChange={(event) => setTyped(event.target.value)} />
            <button type="button" className="danger" disabled={busy || typed !== client.client_id} onClick={() => void remove()}>
              Delete client
            </button>
          </section>
        </div>
      )}

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        {events === null && <p className="muted">Loading history…</p>}
        {events !== null && events.length === 0 && <p className="muted">No recorded events.</p>}
        {events !== null && events.length > 0 && <AuditTable events={events} />}
      </section>

      {secret !== null && <SecretDialog clientId={client.client_id} secret={secret} onClose={() => setSecret(null)} />}
    </section>
  );
}
