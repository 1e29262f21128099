import { useEffect, useRef, useState } from 'react';
import { useIntl } from 'react-intl';

/**
 * The secret, shown this once: a modal dialog with the secret, a copy button, the client
 * ID and a ready token request. Closing (button or Escape) asks for confirmation first.
 * `webhookUrl`: a webhook's signing secret instead (`clientId` then names the webhook), with
 * how a receiver checks the signature in place of the token request.
 */
export function SecretDialog({
  clientId,
  secret,
  onClose,
  webhookUrl,
}: {
  clientId: string;
  secret: string;
  onClose: () => void;
  webhookUrl?: string;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [confirming, setConfirming] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);
  const intl = useIntl();
  const message = (id: Parameters<typeof intl.formatMessage>[0]['id']) => intl.formatMessage({ id });

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);

  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const curl = `curl -s -u ${quote(`${clientId}:${secret}`)} ${window.location.origin}/oauth/token -d grant_type=client_credentials`;

  const copy = async (value: string, done: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(done);
    } catch {
      setCopied(message('secret.copyRefused'));
    }
  };

  return (
    <dialog
      ref={dialog}
      className="secret-dialog"
      aria-labelledby="secret-title"
      onCancel={(event) => {
        event.preventDefault();
        setConfirming(true);
      }}
    >
      <h2 id="secret-title">
        {webhookUrl === undefined
          ? intl.formatMessage({ id: 'secret.title' }, { client: clientId })
          : intl.formatMessage({ id: 'webhooks.secretTitle' }, { url: webhookUrl })}
      </h2>
      <p className="warning">
        <strong>{message('secret.once')}</strong> {message('secret.storeNow')}
      </p>
      <dl>
        <dt>{message(webhookUrl === undefined ? 'client.clientId' : 'webhooks.id')}</dt>
        <dd>
          <code data-testid="secret-client-id">{clientId}</code>
        </dd>
        <dt>{message('client.secret')}</dt>
        <dd>
          <code className="secret" data-testid="client-secret">
            {secret}
          </code>
        </dd>
      </dl>
      <button type="button" onClick={() => void copy(secret, message('secret.secretCopied'))}>
        {message('secret.copySecret')}
      </button>
      {webhookUrl === undefined ? (
        <>
          <h3>{message('secret.getToken')}</h3>
          <pre className="curl" data-testid="curl">
            {curl}
          </pre>
          <button type="button" className="secondary" onClick={() => void copy(curl, message('secret.commandCopied'))}>
            {message('secret.copyCommand')}
          </button>
        </>
      ) : (
        <p>{message('webhooks.secretUse')}</p>
      )}
      <p role="status" className="muted">
        {copied}
      </p>
      {confirming ? (
        <div className="confirm" role="alert">
          <p>{message('secret.stored')}</p>
          <button
            type="button"
            className="danger"
            onClick={() => {
              dialog.current?.close();
              onClose();
            }}
          >
            {message('secret.yesClose')}
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            {message('secret.keepOpen')}
          </button>
        </div>
      ) : (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          {message('common.close')}
        </button>
      )}
    </dialog>
  );
}
