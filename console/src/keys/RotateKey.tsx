import { useState } from 'react';

/** Rotating the signing key, after a confirmation; `busy` while the request runs. */
export function RotateKey({ busy, onRotate }: { busy: boolean; onRotate: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const confirm = async () => {
    await onRotate();
    setConfirming(false);
  };
  return (
    <div className="panel">
      <h2>Rotate</h2>
      {confirming ? (
        <div role="alert">
          <p>Rotate now? A new key is published at once and takes over signing after the publication lead.</p>
          <button type="button" className="danger" disabled={busy} onClick={() => void confirm()}>
            Yes, rotate
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" onClick={() => setConfirming(true)}>
          Rotate signing key
        </button>
      )}
    </div>
  );
}
