import { type FormEvent, useState } from 'react';
import type { SigningKey } from '../api';
import { exactTime, fromLocalInput, relativeTime, toLocalInput } from '../format';

const when = (iso: string) => <time dateTime={iso}>{exactTime(iso)}</time>;

/**
 * The next key: when it takes over signing, and (with write access) bringing it forward,
 * to a chosen time or as soon as allowed. The earliest time comes from the API
 * (earliest_activation); the API refuses anything earlier, and the form says so first.
 */
export function NextKey({
  nextKey,
  canWrite,
  busy,
  onBringForward,
}: {
  nextKey: SigningKey;
  canWrite: boolean;
  busy: boolean;
  /** `at`: ISO 8601, or undefined for as soon as allowed. */
  onBringForward: (at: string | undefined) => Promise<void>;
}) {
  const [at, setAt] = useState('');
  const takesOver = nextKey.activates_at;
  const earliest = nextKey.earliest_activation;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const chosen = fromLocalInput(at);
    await onBringForward(chosen === '' ? undefined : chosen);
    setAt('');
  };
  return (
    <section className="panel" aria-labelledby="next-key-heading">
      <h2 id="next-key-heading">Next key</h2>
      {takesOver !== null && (
        <p>
          Key <code>{nextKey.kid}</code> is published and takes over signing at {when(takesOver)} ({relativeTime(takesOver)}).
        </p>
      )}
      {earliest !== null && (
        <p className="muted">
          It can be brought forward to {when(earliest)} at the earliest: until then, verifiers may still hold a key set fetched before it
          was published.
        </p>
      )}
      {canWrite && (
        <form onSubmit={(event) => void submit(event)}>
          <label htmlFor="bring-forward-at">Take over at (leave empty: as soon as allowed)</label>
          <input
            id="bring-forward-at"
            type="datetime-local"
            value={at}
            min={toLocalInput(earliest)}
            max={toLocalInput(takesOver)}
            onChange={(event) => setAt(event.target.value)}
          />
          <button type="submit" disabled={busy}>
            Bring forward
          </button>
        </form>
      )}
    </section>
  );
}
