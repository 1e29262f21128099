import { useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client } from '../api';
import { explainProblem } from '../i18n/problems';
import { useRouter } from '../router';
import { ConfirmedAction } from '../ui/ConfirmedAction';

/** What an action on the client screen says: done, or why not. */
export type Message = { kind: 'error' | 'ok'; text: string };

/** What an action's request came to (`error`: the problem, when not ok). */
type Outcome = { ok: boolean; error?: unknown };

const GRACE_PERIODS = [
  ['actions.graceNone', 0],
  ['actions.graceHour', 3600],
  ['actions.graceDay', 86_400],
  ['actions.graceWeek', 604_800],
] as const;
/**
 * An hour unless chosen otherwise: long enough to put the new secret where the old one is
 * used, short enough that a leaked old secret soon stops (stopping it at once is a choice).
 */
const DEFAULT_GRACE = 3600;

/**
 * The client's action panels (enable or disable, a new secret, delete), one action at a
 * time: each button is disabled while a request runs. After a change the screen reloads
 * (`onChanged`) before it says so; a new secret goes to `onSecret`, to be shown once.
 */
export function ClientActions({
  api,
  client,
  onChanged,
  onMessage,
  onSecret,
}: {
  api: Api;
  client: Client;
  onChanged: () => Promise<void>;
  onMessage: (message: Message | null) => void;
  onSecret: (secret: string) => void;
}) {
  const { navigate } = useRouter();
  const intl = useIntl();
  const [busy, setBusy] = useState(false);
  const path = { params: { path: { client_id: client.client_id } } };

  const run = async (request: () => Promise<Outcome>, onOk: () => Promise<void> | void) => {
    setBusy(true);
    onMessage(null);
    try {
      const { ok, error } = await request();
      if (ok) await onOk();
      else onMessage({ kind: 'error', text: explainProblem(intl, error, intl.formatMessage({ id: 'actions.failed' })) });
    } catch (thrown) {
      onMessage({ kind: 'error', text: explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })) });
    } finally {
      setBusy(false);
    }
  };
  const reloadThenSay = (text: string) => async () => {
    await onChanged();
    onMessage({ kind: 'ok', text });
  };

  const setEnabled = (enable: boolean) =>
    run(
      async () => {
        const { data, error } = enable
          ? await api.POST('/admin/clients/{client_id}/enable', path)
          : await api.POST('/admin/clients/{client_id}/disable', path);
        return { ok: data !== undefined, error };
      },
      reloadThenSay(intl.formatMessage({ id: enable ? 'actions.enabled' : 'actions.disabled' })),
    );
  const regenerate = (grace: number) =>
    run(
      async () => {
        const { data, error } = await api.POST('/admin/clients/{client_id}/secret', {
          ...path,
          body: { previous_secret_valid_for: grace },
        });
        if (data !== undefined) onSecret(data.client_secret);
        return { ok: data !== undefined, error };
      },
      reloadThenSay(intl.formatMessage({ id: 'actions.regenerated' })),
    );
  const remove = () =>
    run(
      async () => {
        const { response, error } = await api.DELETE('/admin/clients/{client_id}', path);
        return { ok: response.status === 204, error };
      },
      () => navigate('/clients', true),
    );

  return (
    <div className="panels">
      <StatusPanel enabled={client.enabled} busy={busy} onSetEnabled={(enable) => void setEnabled(enable)} />
      {client.auth_method === 'client_secret' && <SecretPanel busy={busy} onRegenerate={regenerate} />}
      <DeletePanel clientId={client.client_id} busy={busy} onDelete={() => void remove()} />
    </div>
  );
}

function StatusPanel({ enabled, busy, onSetEnabled }: { enabled: boolean; busy: boolean; onSetEnabled: (enable: boolean) => void }) {
  const intl = useIntl();
  return (
    <section className="panel" aria-labelledby="status-heading">
      <h2 id="status-heading">{intl.formatMessage({ id: 'client.status' })}</h2>
      {enabled ? (
        <button type="button" disabled={busy} onClick={() => onSetEnabled(false)}>
          {intl.formatMessage({ id: 'actions.disable' })}
        </button>
      ) : (
        <button type="button" disabled={busy} onClick={() => onSetEnabled(true)}>
          {intl.formatMessage({ id: 'actions.enable' })}
        </button>
      )}
    </section>
  );
}

/** A new secret, after a confirmation that says what happens to the old one (working for the chosen grace period). */
function SecretPanel({ busy, onRegenerate }: { busy: boolean; onRegenerate: (grace: number) => Promise<void> }) {
  const intl = useIntl();
  const [grace, setGrace] = useState(DEFAULT_GRACE);
  const chosen = GRACE_PERIODS.find(([, seconds]) => seconds === grace)?.[0];
  return (
    <section className="panel" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{intl.formatMessage({ id: 'actions.newSecret' })}</h2>
      <label htmlFor="grace">{intl.formatMessage({ id: 'actions.grace' })}</label>
      <select id="grace" value={grace} onChange={(event) => setGrace(Number(event.target.value))}>
        {GRACE_PERIODS.map(([label, seconds]) => (
          <option key={seconds} value={seconds}>
            {intl.formatMessage({ id: label })}
          </option>
        ))}
      </select>
      <ConfirmedAction
        label={intl.formatMessage({ id: 'actions.regenerate' })}
        question={
          grace === 0 || chosen === undefined
            ? intl.formatMessage({ id: 'actions.regenerateNow' })
            : intl.formatMessage({ id: 'actions.regenerateGrace' }, { period: intl.formatMessage({ id: chosen }) })
        }
        confirmLabel={intl.formatMessage({ id: 'actions.regenerateYes' })}
        cancelLabel={intl.formatMessage({ id: 'common.cancel' })}
        busy={busy}
        onConfirm={() => onRegenerate(grace)}
      />
    </section>
  );
}

/** Deleting, once the client ID has been typed in full. */
function DeletePanel({ clientId, busy, onDelete }: { clientId: string; busy: boolean; onDelete: () => void }) {
  const [typed, setTyped] = useState('');
  const intl = useIntl();
  return (
    <section className="panel danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">{intl.formatMessage({ id: 'delete.heading' })}</h2>
      <p>{intl.formatMessage({ id: 'delete.clientIntro' })}</p>
      <label htmlFor="delete-confirm">{intl.formatMessage({ id: 'delete.clientId' })}</label>
      <input id="delete-confirm" value={typed} autoComplete="off" onChange={(event) => setTyped(event.target.value)} />
      <button type="button" className="danger" disabled={busy || typed !== clientId} onClick={onDelete}>
        {intl.formatMessage({ id: 'delete.client' })}
      </button>
    </section>
  );
}
