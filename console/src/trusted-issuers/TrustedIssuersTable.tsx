import type { TrustedIssuer } from '../api';
import { exactTime } from '../format';
import { Link } from '../router';

function keysOf(issuer: TrustedIssuer): string {
  if (issuer.jwks_uri !== null) return 'key set URL';
  if (issuer.jwks !== null) return `${issuer.jwks.keys.length} pasted key(s)`;
  return 'discovery';
}

/** The trusted issuers, each linking to its screen. */
export function TrustedIssuersTable({ issuers }: { issuers: TrustedIssuer[] }) {
  return (
    <table className="issuers">
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">Issuer</th>
          <th scope="col">Keys</th>
          <th scope="col">Oldest token</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {issuers.map((issuer) => (
          <tr key={issuer.id}>
            <td data-label="ID">
              <Link to={`/trusted-issuers/${encodeURIComponent(issuer.id)}`}>{issuer.id}</Link>
              {issuer.managed ? ' (managed by configuration)' : ''}
            </td>
            <td data-label="Issuer">
              <code>{issuer.issuer}</code>
            </td>
            <td data-label="Keys">{keysOf(issuer)}</td>
            <td data-label="Oldest token">{issuer.max_token_age} s</td>
            <td data-label="Updated">
              <time dateTime={issuer.updated_at}>{exactTime(issuer.updated_at)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
