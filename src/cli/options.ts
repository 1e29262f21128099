import type { parseArgs } from 'node:util';

export const USAGE = `usage: portier <command>

  serve                                  start the server (same as npm start)
  migrate [--move-issuer]                apply database migrations and create the first signing key;
                                         --move-issuer moves the admin audience to this ISSUER

  clients create --name N --owner O [--client-id ID] [--description D]
                 [--grant SERVICE[:SCOPE,SCOPE…]]… [--ip-range CIDR]… [--role R]…
                 [--first-name F] [--last-name L] [--expires-at ISO-8601] [--dpop-bound]
                 [--auth-method client_secret|private_key_jwt] [--jwks JSON|FILE] [--jwks-uri https://…]
  clients list [--name N] [--owner O] [--created-by C] [--status active|disabled|expired]
               [--service S] [--expires-before T] [--expires-after T] [--limit N] [--cursor C]
  clients get ID
  clients update ID [--name N] [--description D] [--role R]… [--grant …]… [--ip-range …]… [--expires-at T|none]
                 [--auth-method M] [--jwks JSON|FILE] [--jwks-uri URL] [--dpop-bound | --no-dpop-bound]
                 (switching to private_key_jwt removes the secrets; to client_secret prints a new one)
  clients disable ID…  |  clients enable ID…
  clients delete ID
  clients rotate-secret ID [--previous-valid-for SECONDS]

  services list  |  services get ID  |  services delete ID
  services create --id ID --name N --audience URI [--scope S]… [--description D]
  services update ID [--name N] [--description D] [--audience URI] [--scope S]…

  keys list  |  keys reseal
  keys rotate [--emergency | --activate-after SECONDS]
                                         a next key, signing KEY_PUBLICATION_LEAD (or SECONDS) later
  keys activate KID [--at ISO-8601]      bring the next key forward: to --at, or as soon as allowed
                                         (the JWKS max-age after it was published)
  audit [--client-id ID] [--action A] [--limit N]

Configuration comes from the same environment variables as the server (DATABASE_URL, DATA_DIR, …).
Only migrate prepares the database; every other command expects it prepared, and list, get,
keys list and audit write nothing. Secrets are printed once, on standard output; nothing else is.`;

export const OPTIONS = {
  name: { type: 'string' },
  owner: { type: 'string' },
  'client-id': { type: 'string' },
  description: { type: 'string' },
  grant: { type: 'string', multiple: true },
  'ip-range': { type: 'string', multiple: true },
  role: { type: 'string', multiple: true },
  'first-name': { type: 'string' },
  'last-name': { type: 'string' },
  'expires-at': { type: 'string' },
  'created-by': { type: 'string' },
  status: { type: 'string' },
  service: { type: 'string' },
  'expires-before': { type: 'string' },
  'expires-after': { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'previous-valid-for': { type: 'string' },
  id: { type: 'string' },
  audience: { type: 'string' },
  scope: { type: 'string', multiple: true },
  action: { type: 'string' },
  'auth-method': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-uri': { type: 'string' },
  'move-issuer': { type: 'boolean' },
  'dpop-bound': { type: 'boolean' },
  'no-dpop-bound': { type: 'boolean' },
  emergency: { type: 'boolean' },
  'activate-after': { type: 'string' },
  at: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The parsed flags of one command line. */
export type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
