import { parseArgs } from 'node:util';

export const USAGE = `usage: portier <command>

  serve                                  start the server (same as npm start)
  migrate [--move-issuer]                apply database migrations and create the first signing key;
                                         --move-issuer moves the admin audience to this ISSUER

  clients create --name N --owner O [--client-id ID] [--description D]
                 [--grant SERVICE[:SCOPE,SCOPE…]]… [--ip-range CIDR]… [--role R]…
                 [--first-name F] [--last-name L] [--expires-at ISO-8601] [--dpop-bound]
                 [--auth-method client_secret|private_key_jwt|federated|tls_client_auth|self_signed_tls_client_auth]
                 [--jwks JSON|FILE] [--jwks-uri https://…]
                 [--federated-identity ISSUER_ID:SUBJECT | --federated-identity JSON]…
                 [--tls-subject-dn DN | --tls-san-dns NAME | --tls-san-uri URI | --tls-san-ip IP | --tls-san-email ADDRESS]
                 [--certificate-bound | --no-certificate-bound]
                 (ISSUER_ID:SUBJECT: the first ':' separates, the subject may contain more; for claims,
                 give the identity as JSON: '{"issuer":"github","subject":"repo:…","claims":{"repository_owner":"acme"}}')
                 [--exchange SERVICE:SUBJECT,SUBJECT…]… [--exchange-actors SERVICE:CLIENT_ID,…]… [--may-act CLIENT_ID…]
                 (--exchange: whom the client may act for in a token exchange for that granted service:
                 client_ids, issuer:ISSUER_ID or *; --exchange-actors: the clients whose tokens it may present
                 as actor_token in that exchange; --may-act: the clients that may act for this one)
  clients list [--name N] [--owner O] [--created-by C] [--status active|disabled|expired]
               [--service S] [--expires-before T] [--expires-after T] [--sort [-]FIELD] [--limit N] [--cursor C]
  clients get ID
  clients update ID [--name N] [--owner O] [--description D] [--role R]… [--grant …]… [--ip-range …]… [--expires-at T|none]
                 [--auth-method M] [--jwks JSON|FILE] [--jwks-uri URL] [--federated-identity …]… [--dpop-bound | --no-dpop-bound]
                 [--tls-subject-dn DN | --tls-san-dns … | --tls-san-uri … | --tls-san-ip … | --tls-san-email …]
                 [--certificate-bound | --no-certificate-bound]
                 [--exchange SERVICE:SUBJECT,…]… [--exchange-actors SERVICE:CLIENT_ID,…]… (with --grant)
                 [--may-act CLIENT_ID… | --may-act none]
                 (switching to private_key_jwt or federated removes the secrets; to client_secret prints a new one;
                 --federated-identity replaces the whole list)
  clients disable ID…  |  clients enable ID…
  clients delete ID
  clients rotate-secret ID [--previous-valid-for SECONDS]   (adds a secret; the others end after SECONDS, 0: now)
  clients credentials list ID
  clients credentials add ID [--kind secret|public_key] [--description D] [--expires-at ISO-8601]
                      [--jwk JSON|FILE | --pem FILE]   (a secret is printed once)
  clients credentials remove ID CREDENTIAL_ID

  services list  |  services get ID  |  services delete ID
  services create --id ID --name N --audience URI [--scope S]… [--description D] [--self-service]
                  [--self-service-role R]… [--self-service-max-ttl SECONDS]
  services update ID [--name N] [--description D] [--audience URI] [--scope S]… [--self-service | --no-self-service]
                  [--self-service-role R… | --no-self-service-roles] [--self-service-max-ttl SECONDS|none]
                  (what operators may choose for their own clients granted it: these roles, a token
                  lifetime up to SECONDS; --self-service-role replaces the whole list)

  issuers list  |  issuers get ID  |  issuers delete ID
  issuers create --id ID --issuer https://… [--jwks-uri https://… | --jwks JSON|FILE] [--audience A]
                 [--max-token-age SECONDS] [--algorithm ES256|ES384|PS256|RS256|EdDSA|Ed25519]…
                 [--token-exchange] [--jwt-bearer]
                 (--token-exchange: its tokens may be exchanged (RFC 8693); --jwt-bearer: its tokens are
                 assertions of the JWT bearer grant (RFC 7523); neither --jwks-uri nor --jwks: the keys are found at <issuer>/.well-known/openid-configuration)
  issuers update ID [--issuer …] [--jwks-uri URL|none] [--jwks JSON|FILE|none] [--audience A|none]
                 [--max-token-age SECONDS] [--algorithm A]… [--token-exchange | --no-token-exchange]
                 [--jwt-bearer | --no-jwt-bearer]

  keys list  |  keys reseal
  keys rotate [--emergency | --activate-after SECONDS]
                                         a next key, signing KEY_PUBLICATION_LEAD (or SECONDS) later
  keys activate KID [--at ISO-8601]      bring the next key forward: to --at, or as soon as allowed
                                         (the JWKS max-age after it was published)
  audit [--client-id ID] [--action A] [--limit N]
  prune                                  delete expired rows now (AUDIT_RETENTION_DAYS, expired revocations, …)
  notices                                give the notices due now (expiring, expired and dormant clients), each once

  config export [--format yaml|json] [--out FILE]
                                         the services and clients as a document (YAML unless --format json)
  config apply --file FILE [--dry-run] [--prune] [--secrets-out FILE]
                                         apply a document (FILE.json is JSON, anything else YAML) in one
                                         transaction; --prune deletes what an earlier apply created and FILE
                                         no longer lists; new clients' secrets go to --secrets-out (mode
                                         0600), or are printed once

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
  sort: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'previous-valid-for': { type: 'string' },
  kind: { type: 'string' },
  jwk: { type: 'string' },
  pem: { type: 'string' },
  id: { type: 'string' },
  audience: { type: 'string' },
  scope: { type: 'string', multiple: true },
  action: { type: 'string' },
  'auth-method': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-uri': { type: 'string' },
  'federated-identity': { type: 'string', multiple: true },
  issuer: { type: 'string' },
  'max-token-age': { type: 'string' },
  algorithm: { type: 'string', multiple: true },
  'move-issuer': { type: 'boolean' },
  exchange: { type: 'string', multiple: true },
  'exchange-actors': { type: 'string', multiple: true },
  'may-act': { type: 'string', multiple: true },
  'token-exchange': { type: 'boolean' },
  'no-token-exchange': { type: 'boolean' },
  'jwt-bearer': { type: 'boolean' },
  'no-jwt-bearer': { type: 'boolean' },
  'dpop-bound': { type: 'boolean' },
  'no-dpop-bound': { type: 'boolean' },
  'tls-subject-dn': { type: 'string' },
  'tls-san-dns': { type: 'string' },
  'tls-san-uri': { type: 'string' },
  'tls-san-ip': { type: 'string' },
  'tls-san-email': { type: 'string' },
  'certificate-bound': { type: 'boolean' },
  'no-certificate-bound': { type: 'boolean' },
  'self-service': { type: 'boolean' },
  'no-self-service': { type: 'boolean' },
  'self-service-role': { type: 'string', multiple: true },
  'no-self-service-roles': { type: 'boolean' },
  'self-service-max-ttl': { type: 'string' },
  emergency: { type: 'boolean' },
  format: { type: 'string' },
  out: { type: 'string' },
  file: { type: 'string' },
  'dry-run': { type: 'boolean' },
  prune: { type: 'boolean' },
  'secrets-out': { type: 'string' },
  'activate-after': { type: 'string' },
  at: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** One command line, parsed. */
export type CommandLine = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
/** The parsed flags of one command line. */
export type Flags = CommandLine['values'];

/**
 * Marks an argument that starts with a single '-' while parseArgs reads the line: Node's
 * parseArgs takes any such argument for a short option, but ids and values may start with
 * one (a signing key's kid is a base64url thumbprint, and one in 64 does). Portier has no
 * short option but -h, so such an argument is always a value. No argument can hold a NUL
 * (the operating system passes them as C strings), so the mark is never mistaken.
 */
const DASHED = '\u0000';

/** Parses `argv` against OPTIONS (strict: an unknown --option throws, with parseArgs's message). */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const marked = argv.map((arg) => (/^-[^-]/.test(arg) && arg !== '-h' ? DASHED + arg : arg));
  const parsed = parseArgs({ args: marked, options: OPTIONS, allowPositionals: true, strict: true });
  const unmark = (value: string) => (value.startsWith(DASHED) ? value.slice(DASHED.length) : value);
  const values: Record<string, unknown> = parsed.values;
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string') values[name] = unmark(value);
    else if (Array.isArray(value)) values[name] = value.map((item) => (typeof item === 'string' ? unmark(item) : item));
  }
  return { values: parsed.values, positionals: parsed.positionals.map(unmark) };
}
