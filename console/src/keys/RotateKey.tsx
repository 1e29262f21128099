import { ConfirmedAction } from '../ui/ConfirmedAction';

/** Rotating the signing key, after a confirmation; `busy` while the request runs. */
export function RotateKey({ busy, onRotate }: { busy: boolean; onRotate: () => Promise<void> }) {
  return (
    <div className="panel">
      <h2>Rotate</h2>
      <ConfirmedAction
        label="Rotate signing key"
        question="Rotate now? A new key is published at once and takes over signing after the publication lead."
        confirmLabel="Yes, rotate"
        cancelLabel="Cancel"
        busy={busy}
        onConfirm={onRotate}
      />
    </div>
  );
}
