import { useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Webhook, WebhookPatch } from '../api';
import { SecretDialog } from '../clients/SecretDialog';
import type { MessageId } from '../i18n/messages';
import { explainFieldErrors } from '../i18n/problems';
import { Link } from '../router';
import { ConfirmedAction } from '../ui/ConfirmedAction';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { type EditableResource, useRecordEditor } from '../ui/useRecordEditor';
import { Deliveries } from './Deliveries';
import { readWebhookChanges, WebhookFields } from './WebhookFields';
import { WebhookStatus } from './Webhooks';

const WEBHOOK: EditableResource<Webhook, WebhookPatch> = {
  loadFailed: 'webhooks.loadFailed',
  saveFailed: 'webhooks.saveFailed',
  listTitle: 'nav.webhooks',
  listPath: '/webhooks',
  get: (api, id) => api.GET('/admin/webhooks/{id}', { params: { path: { id } } }),
  patch: (api, id, body) => api.PATCH('/admin/webhooks/{id}', { params: { path: { id } }, body }),
  delete: (api, id) => api.DELETE('/admin/webhooks/{id}', { params: { path: { id } } }),
  deleteErrors: (problem, intl) => explainFieldErrors(intl, problem, intl.formatMessage({ id: 'actions.failed' })),
};

/**
 * /console/webhooks/:id (admins): the webhook, its edit form, a new signing secret (shown
 * once; the old one stops at once), a test event, delete, and its recent deliveries.
 */
export function WebhookDetail({ api, id }: { api: Api; id: string }) {
  const { record: webhook, loadError, errors, notice, setNotice, busy, run, save, remove } = useRecordEditor(api, id, WEBHOOK);
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const [secret, setSecret] = useState<string | null>(null);
  const [deliveriesShown, setDeliveriesShown] = useState(0);
  const path = { params: { path: { id } } };

  const regenerate = async () => {
    const made = await run(() => api.POST('/admin/webhooks/{id}/secret', path), say('actions.failed'));
    if (made === undefined) return;
    setSecret(made.secret);
    setNotice(say('webhooks.regenerated'));
  };
  const sendTest = async () => {
    const sent = await run(() => api.POST('/admin/webhooks/{id}/test', path), say('actions.failed'));
    setDeliveriesShown((n) => n + 1);
    if (sent !== undefined) setNotice(say('webhooks.testSent'));
  };

  return (
    <section aria-labelledby="webhook-heading">
      <p>
        <Link to="/webhooks">← {say('nav.webhooks')}</Link>
      </p>
      <h1 id="webhook-heading" className="wrap-anywhere">
        {webhook?.url ?? say('webhooks.webhook')}
      </h1>
      <LoadStatus error={loadError} loaded={webhook !== null} loadingText={say('common.loading')} />
      <FormStatus errors={errors} notice={notice} />
      {webhook !== null && (
        <>
          <p>
            <WebhookStatus webhook={webhook} />
          </p>
          {/* Keyed by the last change: a saved form shows what the server stored (no types: every event, *). */}
          <form
            className="stack"
            onSubmit={(event) => save(event, readWebhookChanges)}
            noValidate
            aria-labelledby="webhook-edit-heading"
            key={webhook.updated_at}
          >
            <h2 id="webhook-edit-heading">{say('webhooks.edit')}</h2>
            <WebhookFields idPrefix="webhook" webhook={webhook} errors={errors} />
            <div>
              <button type="submit" disabled={busy}>
                {say('webhooks.save')}
              </button>
            </div>
          </form>
          <div className="panels">
            <section className="panel" aria-labelledby="webhook-secret-heading">
              <h2 id="webhook-secret-heading">{say('webhooks.secret')}</h2>
              <ConfirmedAction
                label={say('webhooks.regenerate')}
                question={say('webhooks.regenerateQuestion')}
                confirmLabel={say('actions.regenerateYes')}
                cancelLabel={say('common.cancel')}
                busy={busy}
                onConfirm={regenerate}
              />
            </section>
            <section className="panel" aria-labelledby="webhook-test-heading">
              <h2 id="webhook-test-heading">{say('webhooks.test')}</h2>
              <button type="button" disabled={busy} onClick={() => void sendTest()}>
                {say('webhooks.sendTest')}
              </button>
            </section>
            <section className="panel danger-zone" aria-labelledby="webhook-delete-heading">
              <h2 id="webhook-delete-heading">{say('webhooks.delete')}</h2>
              <ConfirmedAction
                label={say('webhooks.delete')}
                labelClassName="danger"
                question={say('webhooks.deleteQuestion')}
                confirmLabel={say('webhooks.deleteYes')}
                cancelLabel={say('common.cancel')}
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
