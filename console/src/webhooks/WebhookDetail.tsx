import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Problem, Webhook } from '../api';
import { SecretDialog } from '../clients/SecretDialog';
import { explainFieldErrors, explainProblem } from '../i18n/problems';
import { Link, useRouter } from '../router';
import { ConfirmedAction } from '../ui/ConfirmedAction';
import { LoadStatus } from '../ui/StatusLines';
import { Deliveries } from './Deliveries';
import { readWebhookFields, WebhookFields } from './WebhookFields';
import { WebhookStatus } from './Webhooks';

type Message = { kind: 'ok' | 'error'; text: string };

/**
 * /console/webhooks/:id (admins): the webhook, its edit form, a new signing secret (shown
 * once; the old one stops at once), a test event, delete, and its recent deliveries.
 */
export function WebhookDetail({ api, id }: { api: Api; id: string }) {
  const intl = useIntl();
  const { navigate } = useRouter();
  const [webhook, setWebhook] = useState<Webhook | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [message, setMessage] = useState<Message | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [deliveriesShown, setDeliveriesShown] = useState(0);
  const path = { params: { path: { id } } };

  // biome-ignore lint/correctness/useExhaustiveDependencies: `path` is made from id
  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/webhooks/{id}', path);
      if (data === undefined) setLoadError(explainProblem(intl, error, intl.formatMessage({ id: 'webhooks.loadFailed' })));
      else setWebhook(data);
    } catch (thrown) {
      setLoadError(explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })));
    }
  }, [api, id, intl]);

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: intl.formatMessage({ id: 'nav.webhooks' }) });
    void load();
  }, [load, intl]);

  /** Runs one action at a time; says what it did, or why not. */
  const run = async (action: () => Promise<{ ok: boolean; error?: unknown }>, done: string) => {
    setBusy(true);
    setMessage(null);
    try {
      const { ok, error } = await action();
      setMessage(
        ok
          ? { kind: 'ok', text: done }
          : { kind: 'error', text: explainProblem(intl, error, intl.formatMessage({ id: 'actions.failed' })) },
      );
    } catch (thrown) {
      setMessage({ kind: 'error', text: explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' })) });
    } finally {
      setBusy(false);
    }
  };

  const save = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = readWebhookFields(new FormData(event.currentTarget));
    setErrors({});
    void run(
      async () => {
        const { data, error } = await api.PATCH('/admin/webhooks/{id}', { ...path, body: { ...body, types: body.types ?? ['*'] } });
        if (data !== undefined) setWebhook(data);
        else setErrors(explainFieldErrors(intl, error as Problem | undefined, intl.formatMessage({ id: 'webhooks.saveFailed' })));
        return { ok: data !== undefined };
      },
      intl.formatMessage({ id: 'webhooks.saved' }),
    );
  };
  const regenerate = () =>
    run(
      async () => {
        const { data, error } = await api.POST('/admin/webhooks/{id}/secret', path);
        if (data !== undefined) setSecret(data.secret);
        return { ok: data !== undefined, error };
      },
      intl.formatMessage({ id: 'webhooks.regenerated' }),
    );
  const sendTest = () =>
    run(
      async () => {
        const { data, error } = await api.POST('/admin/webhooks/{id}/test', path);
        setDeliveriesShown((n) => n + 1);
        return { ok: data !== undefined, error };
      },
      intl.formatMessage({ id: 'webhooks.testSent' }),
    );
  const remove = async () => {
    const { response, error } = await api.DELETE('/admin/webhooks/{id}', path);
    if (response.status === 204) navigate('/webhooks', true);
    else setMessage({ kind: 'error', text: explainProblem(intl, error, intl.formatMessage({ id: 'actions.failed' })) });
  };

  return (
    <section aria-labelledby="webhook-heading">
      <p>
        <Link to="/webhooks">← {intl.formatMessage({ id: 'nav.webhooks' })}</Link>
      </p>
      <h1 id="webhook-heading" className="wrap-anywhere">
        {webhook?.url ?? intl.formatMessage({ id: 'webhooks.webhook' })}
      </h1>
      <LoadStatus error={loadError} loaded={webhook !== null} loadingText={intl.formatMessage({ id: 'common.loading' })} />
      {message !== null && (
        <p className={message.kind === 'ok' ? 'notice' : 'error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
      {webhook !== null && (
        <>
          <p>
            <WebhookStatus webhook={webhook} />
          </p>
          <form className="stack" onSubmit={save} noValidate aria-labelledby="webhook-edit-heading" key={webhook.updated_at}>
            <h2 id="webhook-edit-heading">{intl.formatMessage({ id: 'webhooks.edit' })}</h2>
            <WebhookFields idPrefix="webhook" webhook={webhook} errors={errors} />
            <div>
              <button type="submit" disabled={busy}>
                {intl.formatMessage({ id: 'webhooks.save' })}
              </button>
            </div>
          </form>
          <div className="panels">
            <section className="panel" aria-labelledby="webhook-secret-heading">
              <h2 id="webhook-secret-heading">{intl.formatMessage({ id: 'webhooks.secret' })}</h2>
              <ConfirmedAction
                label={intl.formatMessage({ id: 'webhooks.regenerate' })}
                question={intl.formatMessage({ id: 'webhooks.regenerateQuestion' })}
                confirmLabel={intl.formatMessage({ id: 'actions.regenerateYes' })}
                cancelLabel={intl.formatMessage({ id: 'common.cancel' })}
                busy={busy}
                onConfirm={regenerate}
              />
            </section>
            <section className="panel" aria-labelledby="webhook-test-heading">
              <h2 id="webhook-test-heading">{intl.formatMessage({ id: 'webhooks.test' })}</h2>
              <button type="button" disabled={busy} onClick={() => void sendTest()}>
                {intl.formatMessage({ id: 'webhooks.sendTest' })}
              </button>
            </section>
            <section className="panel danger-zone" aria-labelledby="webhook-delete-heading">
              <h2 id="webhook-delete-heading">{intl.formatMessage({ id: 'webhooks.delete' })}</h2>
              <ConfirmedAction
                label={intl.formatMessage({ id: 'webhooks.delete' })}
                labelClassName="danger"
                question={intl.formatMessage({ id: 'webhooks.deleteQuestion' })}
                confirmLabel={intl.formatMessage({ id: 'webhooks.deleteYes' })}
                cancelLabel={intl.formatMessage({ id: 'common.cancel' })}
                busy={busy}
                onConfirm={remove}
              />
            </section>
          </div>
          <Deliveries api={api} webhookId={id} reload={deliveriesShown} />
        </>
      )}
      {secret !== null && webhook !== null && (
        <SecretDialog clientId={webhook.id} webhookUrl={webhook.url} secret={secret} onClose={() => setSecret(null)} />
      )}
    </section>
  );
}
