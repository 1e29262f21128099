import { type ReactNode, useState } from 'react';

/**
 * A button whose action runs only after a second, explicit click: the first click puts
 * the question in its place (as an alert, so that screen readers hear it) with a button
 * that confirms and one that cancels. `busy`: the confirm button is disabled meanwhile.
 */
export function ConfirmedAction({
  label,
  labelClassName,
  question,
  confirmLabel,
  cancelLabel,
  busy,
  onConfirm,
}: {
  label: string;
  /** The first button's class (e.g. `danger`), if it is not a plain one. */
  labelClassName?: string;
  question: ReactNode;
  confirmLabel: string;
  cancelLabel: string;
  busy?: boolean;
  onConfirm: () => Promise<void>;
}) {
  const [confirming, setConfirming] = useState(false);
  const confirm = async () => {
    await onConfirm();
    setConfirming(false);
  };
  return confirming ? (
    <div role="alert">
      <p>{question}</p>
      <button type="button" className="danger" disabled={busy} onClick={() => void confirm()}>
        {confirmLabel}
      </button>
      <button type="button" className="secondary" onClick={() => setConfirming(false)}>
        {cancelLabel}
      </button>
    </div>
  ) : (
    <button type="button" className={labelClassName} onClick={() => setConfirming(true)}>
      {label}
    </button>
  );
}
