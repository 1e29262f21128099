import { useCallback, useEffect, useState } from 'react';
import { type IntlShape, useIntl } from 'react-intl';
import type { Api, SigningKey } from '../api';
import { localTime } from '../format';
import { explainProblem } from '../i18n/problems';
import { KeysTable } from './KeysTable';
import { NextKey } from './NextKey';
import { RotateKey } from './RotateKey';

/** A refusal explained, with its field messages (e.g. why a time is not allowed) when it has them. */
function refusal(intl: IntlShape, problem: unknown, failed: string): string {
  const errors = (problem as { errors?: Array<{ message: string }> } | undefined)?.errors;
  const explained = explainProblem(intl, problem, failed);
  return Array.isArray(errors) && errors.length > 0 ? `${explained} ${errors.map((error) => error.message).join('; ')}` : explained;
}

/**
 * /console/keys: the signing keys (public parts); rotation after a confirmation; when a
 * next key is published, when it takes over and bringing it forward.
 */
export function Keys({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [keys, setKeys] = useState<SigningKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const intl = useIntl();
  const when = (iso: string) => localTime(iso, intl.locale, { withZone: true });

  const load = useCallback(async () => {
    try {
      const { data, error: problem } = await api.GET('/admin/keys');
      if (data === undefined) setError(explainProblem(intl, problem, intl.formatMessage({ id: 'keys.loadFailed' })));
      else setKeys(data.items);
    } catch (thrown) {
      setError(explainProblem(intl, thrown, intl.formatMessage({ id: 'keys.loadFailed' })));
    }
  }, [api, intl]);

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: intl.formatMessage({ id: 'nav.keys' }) });
    void load();
  }, [load, intl]);

  const rotate = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const { data, error: problem } = await api.POST('/admin/keys/rotate', { body: {} });
      if (data === undefined) setError(explainProblem(intl, problem, intl.formatMessage({ id: 'keys.rotateFailed' })));
      else {
        setKeys(data.items);
        setNotice(
          data.status === 'next'
            ? intl.formatMessage({ id: 'keys.rotatedNext' }, { at: when(data.activates_at) })
            : intl.formatMessage({ id: 'keys.rotatedNow' }),
        );
      }
    } catch (thrown) {
      setError(explainProblem(intl, thrown, intl.formatMessage({ id: 'keys.rotateFailed' })));
    } finally {
      setBusy(false);
    }
  };

  const bringForward = async (kid: string, at: string | undefined) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const { data, error: problem } = await api.POST('/admin/keys/{kid}/activate', {
        params: { path: { kid } },
        body: at === undefined ? {} : { at },
      });
      if (data === undefined) setError(refusal(intl, problem, intl.formatMessage({ id: 'keys.forwardFailed' })));
      else {
        setKeys(data.items);
        setNotice(
          data.status === 'active'
            ? intl.formatMessage({ id: 'keys.forwardNow' }, { kid: data.kid })
            : intl.formatMessage({ id: 'keys.forwardAt' }, { kid: data.kid, at: when(data.activates_at) }),
        );
      }
    } catch (thrown) {
      setError(explainProblem(intl, thrown, intl.formatMessage({ id: 'keys.forwardFailed' })));
    } finally {
      setBusy(false);
    }
  };
  const nextKey = keys?.find((key) => key.status === 'next');

  return (
    <section aria-labelledby="keys-heading">
      <h1 id="keys-heading">{intl.formatMessage({ id: 'nav.keys' })}</h1>
      <p className="muted">{intl.formatMessage({ id: 'keys.intro' })}</p>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {(nextKey !== undefined || canWrite) && (
        <div className="panels">
          {nextKey !== undefined && (
            <NextKey nextKey={nextKey} canWrite={canWrite} busy={busy} onBringForward={(at) => bringForward(nextKey.kid, at)} />
          )}
          {canWrite && <RotateKey busy={busy} onRotate={rotate} />}
        </div>
      )}
      {keys === null && error === null && (
        <p role="status" className="muted">
          {intl.formatMessage({ id: 'keys.loading' })}
        </p>
      )}
      {keys !== null && <KeysTable keys={keys} />}
    </section>
  );
}
