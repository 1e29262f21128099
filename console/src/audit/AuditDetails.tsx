import { useIntl } from 'react-intl';

/** One value of an event's details, as text: strings as they are, lists joined, anything else as compact JSON. */
function valueText(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value === '' ? '""' : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.length === 0 ? '[]' : value.join(', ');
  return JSON.stringify(value);
}

function isChange(value: unknown): value is { from: unknown; to: unknown } {
  return typeof value === 'object' && value !== null && 'from' in value && 'to' in value;
}

/**
 * An event's details as readable fields: each change as "field: before → after", every
 * other detail as "name: value"; nested values as compact JSON.
 */
export function AuditDetails({ details }: { details: Record<string, unknown> }) {
  const intl = useIntl();
  const entries = Object.entries(details);
  if (entries.length === 0) return <>—</>;
  return (
    <dl className="audit-details">
      {entries.flatMap(([name, value]) => {
        if (name === 'changes' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
          return Object.entries(value).map(([field, change]) => (
            <div key={`changes.${field}`}>
              <dt>{field}</dt>
              <dd>
                {isChange(change) ? (
                  <>
                    <del>{valueText(change.from)}</del>
                    <span aria-hidden="true"> → </span>
                    <span className="visually-hidden"> {intl.formatMessage({ id: 'audit.changedTo' })} </span>
                    <ins>{valueText(change.to)}</ins>
                  </>
                ) : (
                  valueText(change)
                )}
              </dd>
            </div>
          ));
        }
        return [
          <div key={name}>
            <dt>{name}</dt>
            <dd>{valueText(value)}</dd>
          </div>,
        ];
      })}
    </dl>
  );
}
