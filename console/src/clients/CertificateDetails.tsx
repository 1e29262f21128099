import type { Client } from '../api';
import type { DetailRow } from '../ui/DetailsList';

/** The TLS client certificate fields of RFC 8705 a tls_client_auth client registers, with their labels. */
const REGISTERED: Array<[keyof Client, string]> = [
  ['tls_client_auth_subject_dn', 'Certificate subject'],
  ['tls_client_auth_san_dns', 'Certificate DNS name'],
  ['tls_client_auth_san_uri', 'Certificate URI (SPIFFE ID)'],
  ['tls_client_auth_san_ip', 'Certificate IP address'],
  ['tls_client_auth_san_email', 'Certificate email'],
];

/**
 * The rows of a client's detail about TLS client certificates: the subject or SAN a
 * tls_client_auth client's certificate must show, and whether its tokens are bound to the
 * certificate (shown for every client that has it on, and for certificate clients).
 */
export function certificateRows(client: Client): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const [field, label] of REGISTERED) {
    const value = client[field];
    if (typeof value === 'string') rows.push([label, <code key={field}>{value}</code>]);
  }
  const certificateClient = client.auth_method === 'tls_client_auth' || client.auth_method === 'self_signed_tls_client_auth';
  if (certificateClient || client.tls_client_certificate_bound_access_tokens) {
    rows.push(['Tokens bound to the certificate', client.tls_client_certificate_bound_access_tokens ? 'yes' : 'no']);
  }
  return rows;
}
