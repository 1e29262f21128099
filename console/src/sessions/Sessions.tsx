import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, ConsoleSession } from '../api';
import { explainProblem } from '../i18n/problems';
import { useRouter } from '../router';
import { Pager } from '../ui/Pager';
import { LoadStatus } from '../ui/StatusLines';
import { Time } from '../ui/Time';
import { type PageFetcher, usePage } from '../ui/usePage';

const fetchSessions: PageFetcher<ConsoleSession> = (api, params) => {
  const cursor = params.get('cursor');
  return api.GET('/admin/sessions', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } });
};

const ROLES = { admin: 'role.admin', auditor: 'role.auditor', operator: 'role.operator' } as const;

/**
 * /console/sessions: the people signed in to the console, for admins and auditors; admins
 * end one (the person is signed out at their next request, on every instance).
 */
export function Sessions({ api, canEnd }: { api: Api; canEnd: boolean }) {
  const intl = useIntl();
  const { location } = useRouter();
  const [reload, setReload] = useState(0);
  const state = usePage(api, location.search.toString(), fetchSessions, 'sessions.loadFailed', reload);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const heading = intl.formatMessage({ id: 'nav.sessions' });

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: heading });
  }, [heading, intl]);

  const end = async (session: ConsoleSession) => {
    setNotice(null);
    const { error, response } = await api.DELETE('/admin/sessions/{id}', { params: { path: { id: session.id } } });
    if (response.status !== 204) {
      setNotice({ kind: 'error', text: explainProblem(intl, error, intl.formatMessage({ id: 'sessions.endFailed' })) });
      return;
    }
    setNotice({ kind: 'ok', text: intl.formatMessage({ id: 'sessions.ended' }, { name: session.name }) });
    setReload((n) => n + 1);
  };

  return (
    <section aria-labelledby="sessions-heading">
      <h1 id="sessions-heading">{heading}</h1>
      <p>{intl.formatMessage({ id: 'sessions.intro' })}</p>
      {notice !== null && (
        <p className={notice.kind === 'ok' ? 'notice' : 'error'} role={notice.kind === 'ok' ? 'status' : 'alert'}>
          {notice.text}
        </p>
      )}
      <LoadStatus
        error={state.kind === 'error' ? state.message : null}
        loaded={state.kind === 'ready'}
        loadingText={intl.formatMessage({ id: 'common.loading' })}
      />
      {state.kind === 'ready' && state.items.length === 0 && (
        <p className="empty" role="status">
          {intl.formatMessage({ id: 'sessions.none' })}
        </p>
      )}
      {state.kind === 'ready' && state.items.length > 0 && (
        <table className="sessions">
          <thead>
            <tr>
              <th scope="col">{intl.formatMessage({ id: 'sessions.person' })}</th>
              <th scope="col">{intl.formatMessage({ id: 'sessions.role' })}</th>
              <th scope="col">{intl.formatMessage({ id: 'sessions.address' })}</th>
              <th scope="col">{intl.formatMessage({ id: 'sessions.signedIn' })}</th>
              <th scope="col">{intl.formatMessage({ id: 'sessions.lastSeen' })}</th>
              <th scope="col">{intl.formatMessage({ id: 'sessions.ends' })}</th>
              {canEnd && (
                <th scope="col">
                  <span className="visually-hidden">{intl.formatMessage({ id: 'sessions.actions' })}</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {state.items.map((session) => (
              <tr key={session.id}>
                <td data-label={intl.formatMessage({ id: 'sessions.person' })}>
                  {session.name}
                  {session.name !== session.owner && <span className="muted"> ({session.owner})</span>}
                </td>
                <td data-label={intl.formatMessage({ id: 'sessions.role' })}>{intl.formatMessage({ id: ROLES[session.role] })}</td>
                <td data-label={intl.formatMessage({ id: 'sessions.address' })}>{session.ip ?? '—'}</td>
                <td data-label={intl.formatMessage({ id: 'sessions.signedIn' })}>
                  <Time iso={session.created_at} />
                </td>
                <td data-label={intl.formatMessage({ id: 'sessions.lastSeen' })}>
                  <Time iso={session.last_seen_at} show="relative" />
                </td>
                <td data-label={intl.formatMessage({ id: 'sessions.ends' })}>
                  <Time iso={session.expires_at} withZone />
                </td>
                {canEnd && (
                  <td data-label={intl.formatMessage({ id: 'sessions.actions' })}>
                    <button type="button" className="secondary" onClick={() => void end(session)}>
                      {intl.formatMessage({ id: 'sessions.end' })}
                      <span className="visually-hidden"> ({session.name})</span>
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {state.kind === 'ready' && <Pager path="/sessions" next={state.next} />}
    </section>
  );
}
