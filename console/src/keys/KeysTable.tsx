import type { SigningKey } from '../api';
import { exactTime } from '../format';

const when = (iso: string | null) => (iso === null ? '—' : <time dateTime={iso}>{exactTime(iso)}</time>);

/** The signing keys' public parts and dates. */
export function KeysTable({ keys }: { keys: SigningKey[] }) {
  return (
    <table className="keys">
      <thead>
        <tr>
          <th scope="col">Key ID</th>
          <th scope="col">Algorithm</th>
          <th scope="col">Status</th>
          <th scope="col">Created</th>
          <th scope="col">Active from</th>
          <th scope="col">Retired</th>
          <th scope="col">Published until</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.kid}>
            <td data-label="Key ID">
              <code>{key.kid}</code>
            </td>
            <td data-label="Algorithm">{key.alg}</td>
            <td data-label="Status">{key.status}</td>
            <td data-label="Created">{when(key.created_at)}</td>
            <td data-label="Active from">{when(key.activates_at)}</td>
            <td data-label="Retired">{when(key.retired_at)}</td>
            <td data-label="Published until">{when(key.publish_until)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
