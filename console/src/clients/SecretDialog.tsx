import { useEffect, useRef, useState } from 'react';

/**
 * The secret, shown this once: a modal dialog with the secret, a copy button, the client
 * ID and a ready token request. Closing (button or Escape) asks for confirmation first.
 */
export function SecretDialog({ clientId, secret, onClose }: { clientId: string; secret: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [confirming, setConfirming] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);

  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const curl = `curl -s -u ${quote(`${clientId}:${secret}`)} ${window.location.origin}/oauth/token -d grant_type=client_credentials`;

  const copy = async (value: string, what: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(`${what} copied.`);
    } catch {
      setCopied('Copying is not allowed here: select the text and copy it.');
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
      <h2 id="secret-title">Client secret for {clientId}</h2>
      <p className="warning">
        <strong>This secret will not be shown again.</strong> Store it now; only a hash is kept. If it is lost, generate a new one.
      </p>
      <dl>
        <dt>Client ID</dt>
        <dd>
          <code data-testid="secret-client-id">{clientId}</code>
        </dd>
        <dt>Client secret</dt>
        <dd>
          <code className="secret" data-testid="client-secret">
            {secret}
          </code>
        </dd>
      </dl>
      <button type="button" onClick={() => void copy(secret, 'Secret')}>
        Copy secret
      </button>
      <h3>Get a token</h3>
      <pre className="curl" data-testid="curl">
        {curl}
      </pre>
      <button type="button" className="secondary" onClick={() => void copy(curl, 'Command')}>
        Copy command
      </button>
      <p role="status" className="muted">
        {copied}
      </p>
      {confirming ? (
        <div className="confirm" role="alert">
          <p>Have you stored the secret? It will not be shown again.</p>
          <button
            type="button"
            className="danger"
            onClick={() => {
              dialog.current?.close();
              onClose();
            }}
          >
            Yes, close
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Keep it open
          </button>
        </div>
      ) : (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          Close
        </button>
      )}
    </dialog>
  );
}
