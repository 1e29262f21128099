import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Problem, Webhook } from '../api';
import { SecretDialog } from '../clients/SecretDialog';
import { explainFieldErrors, explainProblem } from '../i18n/problems';
import { Link, useRouter } from '../router';
import { LoadStatus } from '../ui/StatusLines';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readWebhookFields, WebhookFields } from './WebhookFields';

const fetchWebhooks: WholeListFetcher<Webhook> = (api) => api.GET('/admin/webhooks');

/** /console/webhooks (admins): where Portier delivers its events, and a form for a new one whose secret is shown once. */
export function Webhooks({ api }: { api: Api }) {
  const intl = useIntl();
  const heading = intl.formatMessage({ id: 'nav.webhooks' });
  const { items, loadError, reload } = useWholeList(api, fetchWebhooks, 'webhooks.listFailed', 'nav.webhooks');
  return (
    <section aria-labelledby="webhooks-heading">
      <h1 id="webhooks-heading">{heading}</h1>
      <p className="muted">{intl.formatMessage({ id: 'webhooks.intro' })}</p>
      <LoadStatus
        error={loadError}
        loaded={items !== null}
        loadingText={intl.formatMessage({ id: 'common.loading' })}
        onRetry={() => void reload()}
      />
      {items !== null && items.length === 0 && (
        <p className="empty" role="status">
          {intl.formatMessage({ id: 'webhooks.none' })}
        </p>
      )}
      {items !== null && items.length > 0 && <WebhooksTable webhooks={items} />}
      <NewWebhook api={api} />
    </section>
  );
}

function WebhooksTable({ webhooks }: { webhooks: Webhook[] }) {
  const intl = useIntl();
  const label = (id: Parameters<typeof intl.formatMessage>[0]['id']) => intl.formatMessage({ id });
  return (
    <table className="webhooks">
      <thead>
        <tr>
          <th scope="col">{label('webhooks.url')}</th>
          <th scope="col">{label('webhooks.types')}</th>
          <th scope="col">{label('client.status')}</th>
          <th scope="col">{label('client.description')}</th>
        </tr>
      </thead>
      <tbody>
        {webhooks.map((webhook) => (
          <tr key={webhook.id}>
            <td data-label={label('webhooks.url')}>
              <Link to={`/webhooks/${webhook.id}`}>{webhook.url}</Link>
            </td>
            <td data-label={label('webhooks.types')}>
              <code>{webhook.types.join(' ')}</code>
            </td>
            <td data-label={label('client.status')}>
              <WebhookStatus webhook={webhook} />
            </td>
            <td data-label={label('client.description')}>{webhook.description || '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** On or off, and failing since when (a day of failures turns it off). */
export function WebhookStatus({ webhook }: { webhook: Webhook }) {
  const intl = useIntl();
  return (
    <>
      <span className={`status status-${webhook.enabled ? 'active' : 'disabled'}`}>
        {intl.formatMessage({ id: webhook.enabled ? 'webhooks.on' : 'webhooks.off' })}
      </span>
      {webhook.failing_since !== null && (
        <>
          {' '}
          <span className="badge badge-warning">
            {intl.formatMessage({ id: 'webhooks.failingSince' }, { since: new Date(webhook.failing_since) })}
          </span>
        </>
      )}
    </>
  );
}

function NewWebhook({ api }: { api: Api }) {
  const intl = useIntl();
  const { navigate } = useRouter();
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ id: string; url: string; secret: string } | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const { data, error } = await api.POST('/admin/webhooks', { body: readWebhookFields(new FormData(event.currentTarget)) });
      if (data === undefined)
        setErrors(explainFieldErrors(intl, error as Problem | undefined, intl.formatMessage({ id: 'webhooks.createFailed' })));
      else setCreated({ id: data.id, url: data.url, secret: data.secret });
    } catch (thrown) {
      setErrors({ form: [explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' }))] });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-webhook-heading">
      <h2 id="new-webhook-heading">{intl.formatMessage({ id: 'webhooks.new' })}</h2>
      <form className="stack" onSubmit={submit} noValidate>
        {errors.form !== undefined && (
          <p className="error" role="alert">
            {errors.form.join('; ')}
          </p>
        )}
        <WebhookFields idPrefix="new-webhook" errors={errors} />
        <div>
          <button type="submit" disabled={busy}>
            {intl.formatMessage({ id: 'webhooks.create' })}
          </button>
        </div>
      </form>
      {created !== null && (
        <SecretDialog
          clientId={created.id}
          webhookUrl={created.url}
          secret={created.secret}
          onClose={() => navigate(`/webhooks/${created.id}`)}
        />
      )}
    </section>
  );
}
