import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Usage } from '../api';
import { exactTime, localTime, problemMessage, usageBars } from '../format';
import { LoadStatus } from '../ui/StatusLines';

const WIDTH = 480;
const HEIGHT = 100;
const SPAN = { hour: 'the last 48 hours', day: 'the last 90 days' } as const;

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
        if (data === undefined) setFailure(problemMessage(error, 'The usage could not be loaded.'));
        else setUsage(data);
      })
      .catch(() => current && setFailure('The usage could not be loaded: Portier is not reachable.'));
    return () => {
      current = false;
    };
  }, [api, clientId, granularity]);

  const buckets = usage?.granularity === granularity ? usage.buckets : [];
  const { bars, max } = usageBars(buckets, WIDTH, HEIGHT);
  const tokens = buckets.reduce((sum, bucket) => sum + bucket.tokens, 0);
  const refusals = buckets.reduce((sum, bucket) => sum + bucket.refusals, 0);
  const summary = `${number(tokens)} tokens issued and ${number(refusals)} requests refused in ${SPAN[granularity]}; at most ${number(max)} in one ${granularity}.`;
  // The axis's marks: the busiest bucket, half of it (when that is a whole number) and 0.
  const marks = max === 0 ? [0] : max % 2 === 0 ? [max, max / 2, 0] : [max, 0];
  const first = buckets[0];
  const last = buckets.at(-1);

  return (
    <section className="usage" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage</h2>
      <fieldset className="plain-group">
        <legend className="visually-hidden">Show usage per</legend>
        {(['hour', 'day'] as const).map((choice) => (
          <button
            key={choice}
            type="button"
            className="secondary"
            aria-pressed={granularity === choice}
            onClick={() => setGranularity(choice)}
          >
            Per {choice}
          </button>
        ))}
      </fieldset>
      <LoadStatus error={failure} loaded={usage !== null} loadingText="Loading usage…" />
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
                      <title>{`${number(buckets[i]?.tokens ?? 0)} tokens from ${exactTime(buckets[i]?.start ?? '')}`}</title>
                    </rect>
                  )}
                  {bar.refusalsHeight > 0 && (
                    <rect className="usage-refusals" x={bar.x} y={bar.refusalsY} width={bar.width} height={bar.refusalsHeight}>
                      <title>{`${number(buckets[i]?.refusals ?? 0)} refusals from ${exactTime(buckets[i]?.start ?? '')}`}</title>
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
                tokens
              </li>
              <li>
                <span className="legend-refusals" />
                refusals
              </li>
            </ul>
            <p className="muted">Each instance of Portier writes its counts about once a minute.</p>
          </figcaption>
        </figure>
      )}
      {buckets.length > 0 && (
        <details className="usage-table">
          <summary>The same as a table</summary>
          <table>
            <caption className="visually-hidden">Usage per {granularity}</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col">Tokens issued</th>
                <th scope="col">Requests refused</th>
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
