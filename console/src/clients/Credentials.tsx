import { useCallback, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client, Credential } from '../api';
import { explainProblem } from '../i18n/problems';
import { LoadStatus } from '../ui/StatusLines';
import { AddCredential } from './AddCredential';
import { CredentialsTable } from './CredentialsTable';

/** Which kind of credential a client takes, as the API has it: secrets for client_secret, keys for private_key_jwt without a jwks_uri. */
export function credentialKindFor(client: Client): Credential['kind'] | null {
  if (client.auth_method === 'client_secret') return 'secret';
  if (client.auth_method === 'private_key_jwt' && client.jwks_uri === null) return 'public_key';
  return null;
}

/**
 * The client screen's Credentials panel: every secret and public key of the client, each with
 * its own expiry and last use; with write access, add one (a secret goes to `onSecret`, to be
 * shown once) or remove one after a confirmation. `onChanged`: the client screen reloads its
 * history after each change.
 */
export function Credentials({
  api,
  client,
  canWrite,
  onSecret,
  onChanged,
}: {
  api: Api;
  client: Client;
  canWrite: boolean;
  onSecret: (secret: string) => void;
  onChanged: () => Promise<void>;
}) {
  const intl = useIntl();
  const [credentials, setCredentials] = useState<Credential[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const path = { params: { path: { client_id: client.client_id } } };

  // biome-ignore lint/correctness/useExhaustiveDependencies: `path` is made from client.client_id
  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/clients/{client_id}/credentials', path);
      if (data === undefined) setLoadError(explainProblem(intl, error, intl.formatMessage({ id: 'credentials.loadFailed' })));
      else {
        setLoadError(null);
        setCredentials(data.credentials);
      }
    } catch (thrown) {
      setLoadError(explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })));
    }
  }, [api, client.client_id, intl]);

  useEffect(() => {
    void load();
  }, [load]);

  const remove = async (credential: Credential) => {
    setBusy(true);
    setMessage(null);
    try {
      const { response, error } = await api.DELETE('/admin/clients/{client_id}/credentials/{credential_id}', {
        params: { path: { client_id: client.client_id, credential_id: credential.id } },
      });
      if (response.status !== 204)
        setMessage({ kind: 'error', text: explainProblem(intl, error, intl.formatMessage({ id: 'actions.failed' })) });
      else {
        await load();
        await onChanged();
        setMessage({ kind: 'ok', text: intl.formatMessage({ id: 'credentials.removed' }, { id: credential.id }) });
      }
    } catch (thrown) {
      setMessage({ kind: 'error', text: explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })) });
    } finally {
      setBusy(false);
    }
  };

  const kind = credentialKindFor(client);
  // Federated and tls_client_auth clients sign in with what others vouch for: nothing of theirs is stored here.
  if (client.auth_method === 'federated' || client.auth_method === 'tls_client_auth') return null;
  return (
    <section className="panel credentials-panel" aria-labelledby="credentials-heading">
      <h2 id="credentials-heading">{intl.formatMessage({ id: 'credentials.heading' })}</h2>
      {message !== null && (
        <p className={message.kind === 'ok' ? 'notice' : 'error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
      <LoadStatus
        error={loadError}
        loaded={credentials !== null}
        loadingText={intl.formatMessage({ id: 'common.loading' })}
        onRetry={() => void load()}
      />
      {credentials !== null && credentials.length === 0 && <p className="muted">{intl.formatMessage({ id: 'credentials.none' })}</p>}
      {credentials !== null && credentials.length > 0 && (
        <div className="table-scroll">
          <CredentialsTable credentials={credentials} busy={busy} onRemove={canWrite ? remove : null} />
        </div>
      )}
      {canWrite && kind !== null && (
        <AddCredential
          api={api}
          clientId={client.client_id}
          kind={kind}
          onAdded={async (secret) => {
            await load();
            await onChanged();
            if (secret !== undefined) onSecret(secret);
            setMessage({ kind: 'ok', text: intl.formatMessage({ id: 'credentials.added' }) });
          }}
        />
      )}
    </section>
  );
}
