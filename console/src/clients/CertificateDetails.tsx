import type { IntlShape } from 'react-intl';
import type { Client } from '../api';
import type { MessageId } from '../i18n/messages';
import type { DetailRow } from '../ui/DetailsList';

/** The TLS client certificate fields of RFC 8705 a tls_client_auth client registers, with their labels. */
const REGISTERED: Array<[keyof Client, MessageId]> = [
  ['tls_client_auth_subject_dn', 'certificate.subject'],
  ['tls_client_auth_san_dns', 'certificate.dns'],
  ['tls_client_auth_san_uri', 'certificate.uri'],
  ['tls_client_auth_san_ip', 'certificate.ip'],
  ['tls_client_auth_san_email', 'certificate.email'],
];

/**
 * The rows of a client's detail about TLS client certificates: the subject or SAN a
 * tls_client_auth client's certificate must show, and whether its tokens are bound to the
 * certificate (shown for every client that has it on, and for certificate clients).
 */
export function certificateRows(client: Client, intl: IntlShape): DetailRow[] {
  const rows: DetailRow[] = [];
  for (const [field, label] of REGISTERED) {
    const value = client[field];
    if (typeof value === 'string') rows.push([intl.formatMessage({ id: label }), <code key={field}>{value}</code>]);
  }
  const certificateClient = client.auth_method === 'tls_client_auth' || client.auth_method === 'self_signed_tls_client_auth';
  if (certificateClient || client.tls_client_certificate_bound_access_tokens) {
    rows.push([
      intl.formatMessage({ id: 'certificate.bound' }),
      intl.formatMessage({ id: client.tls_client_certificate_bound_access_tokens ? 'common.yes' : 'common.no' }),
    ]);
  }
  return rows;
}
