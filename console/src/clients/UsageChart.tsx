import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Usage } from '../api';
import { exactTime, localTime, usageBars } from '../format';
import { explainProblem } from '../i18n/problems';
import { LoadStatus } from '../ui/StatusLines';

const WIDTH = 480;
const HEIGHT = 100;

/**
 * A client's usage as a bar chart: tokens issued and requests refused, per hour (48) or
 * per day (90). An SVG drawn here, no charting library, with a y-axis (0, half and the
 * busiest bucket, in the person's number format); for screen readers, the totals in words
 * and the same data as a table.
 */
export function UsageChart({ api, clientId }: { api: Api; clientId: string }) {
  const [granularity, setGranularity] = useState<'hour' | 'day'>('hour');
  const [usage, setUsage] = useState<Usage | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const intl = useIntl();
  const number = (value: number) => intl.formatNumber(value);

  useEffect(() => {
    let current = true;
    setFailure(null);
    api
      .GET('/admin/clients/{client_id}/usage', { params: { path: { client_id: clientId }, query: { granularity } } })
      .then(({ data, error }) => {
        if (!current) return;
        if (data === undefined) setFailure(explainProblem(intl, error, intl.formatMessage({ id: 'usage.loadFailed' })));
        else setUsage(data);
      })
      .catch((thrown) => current && setFailure(explainProblem(intl, thrown, intl.formatMessage({ id: 'usage.loadFailed' }))));
    return () => {
      current = false;
    };
  }, [api, clientId, granularity, intl]);

  const buckets = usage?.granularity === granularity ? usage.buckets : [];
  const { bars, max } = usageBars(buckets, WIDTH, HEIGHT);
  const tokens = buckets.reduce((sum, bucket) => sum + bucket.tokens, 0);
  const refusals = buckets.reduce((sum, bucket) => sum + bucket.refusals, 0);
  const summary = intl.formatMessage({ id: 'usage.summary' }, { tokens, refusals, max, granularity });
  // The axis's marks: the busiest bucket, half of it (when that is a whole number) and 0.
  const marks = max === 0 ? [0] : max % 2 === 0 ? [max, max / 2, 0] : [max, 0];
  const first = buckets[0];
  const last = buckets.at(-1);

  return (
    <section className="usage" aria-labelledby="usage-heading">
      <h2 id="usage-heading">{intl.formatMessage({ id: 'usage.heading' })}</h2>
      <fieldset className="plain-group">
        <legend className="visually-hidden">{intl.formatMessage({ id: 'usage.showPer' })}</legend>
        {(['hour', 'day'] as const).map((choice) => (
          <button
            key={choice}
            type="button"
            className="secondary"
            aria-pressed={granularity === choice}
            onClick={() => setGranularity(choice)}
          >
            {intl.formatMessage({ id: 'usage.per' }, { granularity: choice })}
          </button>
        ))}
      </fieldset>
      <LoadStatus error={failure} loaded={usage !== null} loadingText={intl.formatMessage({ id: 'usage.loading' })} />
      {buckets.length > 0 && (
        <figure>
          <div className="chart">
            <div className="y-axis" aria-hidden="true">
              {marks.map((mark) => (
                <span key={mark}>{number(mark)}</span>
              ))}
            </div>
            <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-labelledby="usage-title">
              <title id="usage-title">{summary}</title>
              {bars.map((bar, i) => (
                <g key={buckets[i]?.start}>
                  {bar.tokensHeight > 0 && (
                    <rect className="usage-tokens" x={bar.x} y={bar.tokensY} width={bar.width} height={bar.tokensHeight}>
                      <title>
                        {intl.formatMessage(
                          { id: 'usage.barTokens' },
                          { count: buckets[i]?.tokens ?? 0, from: exactTime(buckets[i]?.start ?? '') },
                        )}
                      </title>
                    </rect>
                  )}
                  {bar.refusalsHeight > 0 && (
                    <rect className="usage-refusals" x={bar.x} y={bar.refusalsY} width={bar.width} height={bar.refusalsHeight}>
                      <title>
                        {intl.formatMessage(
                          { id: 'usage.barRefusals' },
                          { count: buckets[i]?.refusals ?? 0, from: exactTime(buckets[i]?.start ?? '') },
                        )}
                      </title>
                    </rect>
                  )}
                </g>
              ))}
            </svg>
          </div>
          <div className="axis" aria-hidden="true">
            <span>{first === undefined ? '' : localTime(first.start, intl.locale)}</span>
            <span>{last === undefined ? '' : localTime(last.start, intl.locale)}</span>
          </div>
          <figcaption>
            {/* The same words as the chart's title, which is what screen readers read. */}
            <p aria-hidden="true">{summary}</p>
            <ul className="legend" aria-hidden="true">
              <li>
                <span className="legend-tokens" />
                {intl.formatMessage({ id: 'usage.tokens' })}
              </li>
              <li>
                <span className="legend-refusals" />
                {intl.formatMessage({ id: 'usage.refusals' })}
              </li>
            </ul>
            <p className="muted">{intl.formatMessage({ id: 'usage.flush' })}</p>
          </figcaption>
        </figure>
      )}
      {buckets.length > 0 && (
        <details className="usage-table">
          <summary>{intl.formatMessage({ id: 'usage.asTable' })}</summary>
          <table>
            <caption className="visually-hidden">{intl.formatMessage({ id: 'usage.caption' }, { granularity })}</caption>
            <thead>
              <tr>
                <th scope="col">{intl.formatMessage({ id: 'usage.from' })}</th>
                <th scope="col">{intl.formatMessage({ id: 'usage.tokensIssued' })}</th>
                <th scope="col">{intl.formatMessage({ id: 'usage.requestsRefused' })}</th>
              </tr>
            </thead>
            <tbody>
              {buckets.map((bucket) => (
                <tr key={bucket.start}>
                  <th scope="row">
                    <time dateTime={bucket.start} title={exactTime(bucket.start)}>
                      {localTime(bucket.start, intl.locale)}
                    </time>
                  </th>
                  <td>{number(bucket.tokens)}</td>
                  <td>{number(bucket.refusals)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}
