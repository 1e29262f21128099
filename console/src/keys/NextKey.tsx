import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { SigningKey } from '../api';
import { fromLocalInput, toLocalInput } from '../format';
import { Time } from '../ui/Time';

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
  const intl = useIntl();
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
      <h2 id="next-key-heading">{intl.formatMessage({ id: 'keys.next' })}</h2>
      {takesOver !== null && (
        <p>
          {intl.formatMessage(
            { id: 'keys.nextTakesOver' },
            { kid: <code key="kid">{nextKey.kid}</code>, at: <Time key="at" iso={takesOver} show="both" withZone /> },
          )}
        </p>
      )}
      {earliest !== null && (
        <p className="muted">{intl.formatMessage({ id: 'keys.nextEarliest' }, { at: <Time key="at" iso={earliest} withZone /> })}</p>
      )}
      {canWrite && (
        <form onSubmit={(event) => void submit(event)}>
          <label htmlFor="bring-forward-at">
            {intl.formatMessage({ id: 'keys.takeOverAt' }, { zone: Intl.DateTimeFormat().resolvedOptions().timeZone })}
          </label>
          <input
            id="bring-forward-at"
            type="datetime-local"
            value={at}
            min={toLocalInput(earliest)}
            max={toLocalInput(takesOver)}
            onChange={(event) => setAt(event.target.value)}
          />
          <button type="submit" disabled={busy}>
            {intl.formatMessage({ id: 'keys.bringForward' })}
          </button>
        </form>
      )}
    </section>
  );
}
