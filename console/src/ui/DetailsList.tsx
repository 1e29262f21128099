import type { ReactNode } from 'react';

/** One row of a details list: a field's label and its value. */
export type DetailRow = readonly [label: string, value: ReactNode];

/** A record's fields as a list of labels and values: what a reader (who cannot edit) sees of it. */
export function DetailsList({ rows }: { rows: readonly DetailRow[] }) {
  return (
    <dl className="details">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
