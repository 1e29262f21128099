import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Webhook } from '../api';
import { SecretDialog } from '../clients/SecretDialog';
import { Link, useRouter } from '../router';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { useFormSubmission } from '../ui/useFormSubmission';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readNewWebhook, WebhookFields } from './WebhookFields';

/** What the new webhook's secret dialog shows (the secret, once). */
type CreatedWebhook = Pick<Webhook, 'id' | 'url'> & { secret: string };

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

/** The new-webhook form; once created, its secret is shown once, then its own screen. */
function NewWebhook({ api }: { api: Api }) {
  const intl = useIntl();
  const { navigate } = useRouter();
  const { errors, busy, submit } = useFormSubmission();
  const [created, setCreated] = useState<CreatedWebhook | null>(null);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    const made = await submit(
      event,
      readNewWebhook,
      (body) => api.POST('/admin/webhooks', { body }),
      intl.formatMessage({ id: 'webhooks.createFailed' }),
    );
    if (made !== undefined) setCreated(made);
  };

  return (
    <section aria-labelledby="new-webhook-heading">
      <h2 id="new-webhook-heading">{intl.formatMessage({ id: 'webhooks.new' })}</h2>
      <form className="stack" onSubmit={create} noValidate>
        <FormStatus errors={errors} notice={null} />
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
