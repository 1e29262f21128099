import { useIntl } from 'react-intl';
import type { NewWebhookBody, Webhook, WebhookPatch } from '../api';
import { formText, words } from '../format';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import type { FormReading } from '../ui/useFormSubmission';

/** What the webhook forms send: every field the API takes but the secret, which Portier makes. */
export type WebhookFieldsBody = Required<Pick<NewWebhookBody, 'url' | 'enabled' | 'description' | 'mode'>> & { types?: string[] };

/** The fields as the form holds them: types separated by spaces, commas or new lines (none: every event, `*`). */
function readWebhookFields(form: FormData): WebhookFieldsBody {
  const types = words(formText(form, 'types'));
  return {
    url: formText(form, 'url'),
    ...(types.length > 0 && { types }),
    enabled: form.get('enabled') === 'on',
    description: formText(form, 'description'),
    mode: formText(form, 'mode') === 'binary' ? 'binary' : 'structured',
  };
}

/** The new-webhook form's body (the server checks the URL and the types). */
export function readNewWebhook(form: FormData): FormReading<NewWebhookBody> {
  return { ok: true, body: readWebhookFields(form) };
}

/** The edit form's changes: every field, the types emptied meaning every event again. */
export function readWebhookChanges(form: FormData): FormReading<WebhookPatch> {
  const body = readWebhookFields(form);
  return { ok: true, body: { ...body, types: body.types ?? ['*'] } };
}

/** A webhook's fields, empty for a new one or holding `webhook`'s values; errors by field under each. */
export function WebhookFields({ idPrefix, webhook, errors }: { idPrefix: string; webhook?: Webhook; errors: Record<string, string[]> }) {
  const intl = useIntl();
  const { aria, error } = fieldErrorViews(errors, `${idPrefix}-error-`);
  const id = (name: string) => `${idPrefix}-${name}`;
  return (
    <>
      <label htmlFor={id('url')}>{intl.formatMessage({ id: 'webhooks.url' })}</label>
      <input
        id={id('url')}
        name="url"
        type="url"
        required
        placeholder="https://siem.example.com/portier"
        defaultValue={webhook?.url}
        {...aria('url')}
      />
      {error('url')}
      <label htmlFor={id('types')}>{intl.formatMessage({ id: 'webhooks.typesLabel' })}</label>
      <textarea
        id={id('types')}
        name="types"
        rows={3}
        spellCheck={false}
        placeholder="dev.portier.client.*"
        defaultValue={webhook?.types.join('\n')}
        {...aria('types')}
      />
      {error('types')}
      <label htmlFor={id('description')}>{intl.formatMessage({ id: 'client.description' })}</label>
      <textarea id={id('description')} name="description" rows={2} defaultValue={webhook?.description} {...aria('description')} />
      {error('description')}
      <label htmlFor={id('mode')}>{intl.formatMessage({ id: 'webhooks.mode' })}</label>
      <select id={id('mode')} name="mode" defaultValue={webhook?.mode ?? 'structured'}>
        <option value="structured">{intl.formatMessage({ id: 'webhooks.modeStructured' })}</option>
        <option value="binary">{intl.formatMessage({ id: 'webhooks.modeBinary' })}</option>
      </select>
      <label className="check">
        <input type="checkbox" name="enabled" defaultChecked={webhook?.enabled ?? true} />
        {intl.formatMessage({ id: 'webhooks.enabled' })}
      </label>
    </>
  );
}
