import { useCallback, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, AuditEvent, Client } from '../api';
import { explainProblem } from '../i18n/problems';
import { Link } from '../router';
import { ClientActions, type Message } from './ClientActions';
import { ClientHistory } from './ClientHistory';
import { ClientSummary } from './ClientSummary';
import { Credentials } from './Credentials';
import { EditClient } from './EditClient';
import { SecretDialog } from './SecretDialog';
import { UsageChart } from './UsageChart';

/** The client and its history, loaded together, and again by `load` after each change. */
function useClientWithHistory(api: Api, clientId: string) {
  const [client, setClient] = useState<Client | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const intl = useIntl();
  const failed = intl.formatMessage({ id: 'detail.loadFailed' });

  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/clients/{client_id}', { params: { path: { client_id: clientId } } });
      if (data === undefined) setLoadError(explainProblem(intl, error, failed));
      else setClient(data);
      const audit = await api.GET('/admin/audit-events', { params: { query: { client_id: clientId, limit: 50 } } });
      setEvents(audit.data?.items ?? []);
    } catch (error) {
      setLoadError(explainProblem(intl, error, failed));
    }
  }, [api, clientId, intl, failed]);

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: clientId });
    void load();
  }, [clientId, load, intl]);

  return { client, setClient, loadError, events, load };
}

/**
 * /console/clients/:id: the client's fields, its edit form and action panels (with write
 * access; `canSetOwner`, an admin, may pass the client on to another owner), its history.
 */
export function ClientDetail({
  api,
  clientId,
  canWrite,
  canSetOwner,
  canSetIdentities,
  canShapeTokens,
}: {
  api: Api;
  clientId: string;
  canWrite: boolean;
  canSetOwner: boolean;
  canSetIdentities: boolean;
  /** Set roles, claims, lifetime and quota as they like (admins); operators, within what the services offer. */
  canShapeTokens: boolean;
}) {
  const { client, setClient, loadError, events, load } = useClientWithHistory(api, clientId);
  const [message, setMessage] = useState<Message | null>(null);
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const intl = useIntl();
  const back = (
    <p>
      <Link to="/clients">← {intl.formatMessage({ id: 'nav.clients' })}</Link>
    </p>
  );

  if (loadError !== null) {
    return (
      <section>
        {back}
        <h1>{intl.formatMessage({ id: 'detail.heading' }, { client: clientId })}</h1>
        <p className="error" role="alert">
          {loadError}
        </p>
      </section>
    );
  }
  if (client === null) {
    return (
      <p role="status" className="muted">
        {intl.formatMessage({ id: 'detail.loading' })}
      </p>
    );
  }

  return (
    <section aria-labelledby="client-heading">
      {back}
      <h1 id="client-heading">{client.name}</h1>
      {message !== null && (
        <p className={message.kind === 'ok' ? 'notice' : 'error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
      {canWrite && !editing && (
        <button type="button" className="secondary" onClick={() => setEditing(true)}>
          {intl.formatMessage({ id: 'edit.heading' })}
        </button>
      )}
      {editing && (
        <EditClient
          api={api}
          client={client}
          canSetOwner={canSetOwner}
          canSetIdentities={canSetIdentities}
          canShapeTokens={canShapeTokens}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            setClient(saved);
            setEditing(false);
            setMessage({ kind: 'ok', text: intl.formatMessage({ id: 'common.saved' }) });
            void load();
          }}
        />
      )}
      <ClientSummary client={client} />
      <Credentials api={api} client={client} canWrite={canWrite} onSecret={setSecret} onChanged={load} />
      <UsageChart api={api} clientId={client.client_id} />
      {canWrite && <ClientActions api={api} client={client} onChanged={load} onMessage={setMessage} onSecret={setSecret} />}
      <ClientHistory events={events} />
      {secret !== null && <SecretDialog clientId={client.client_id} secret={secret} onClose={() => setSecret(null)} />}
    </section>
  );
}
