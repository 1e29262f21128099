import { readFileSync } from 'node:fs';
import { createClient, getClient } from '../clients/clients.js';
import { addCredential, listCredentials, removeCredential } from '../clients/credentials.js';
import { bulkSetEnabled, deleteClient, regenerateSecret, updateClient } from '../clients/lifecycle.js';
import { listClients } from '../clients/list.js';
import { NotFoundError } from '../lib/errors.js';
import { createClientBody, type GrantInput, listClientsQuery, patchClientBody } from '../schemas/clients.js';
import { newCredentialBody } from '../schemas/credentials.js';
import type { Session } from './common.js';
import { type CliOutput, type CommandGroup, definedOnly, jsonOrFile, negatableFlag, one, print, UsageError, validate } from './common.js';
import type { Flags } from './options.js';

/** `service:scope1,scope2` → { service, scopes }. */
function parseGrant(flag: string): GrantInput {
  // Scopes often contain ':' themselves (events:read): only the first ':' separates.
  const colon = flag.indexOf(':');
  if (colon < 0) return { service: flag, scopes: [] };
  const scopes = flag.slice(colon + 1);
  return { service: flag.slice(0, colon), scopes: scopes === '' ? [] : scopes.split(',') };
}

/** The flags of the client fields that create and update share, as the admin API names them. */
function editableClientFlags(flags: Flags) {
  return {
    name: flags.name,
    description: flags.description,
    first_name: flags['first-name'],
    last_name: flags['last-name'],
    roles: flags.role,
    grants: withExchanges(flags.grant?.map(parseGrant), flags.exchange, flags['exchange-actors']),
    ip_ranges: flags['ip-range'],
    dpop_bound: dpopBoundFlag(flags),
    may_act: mayActFlag(flags['may-act']),
  };
}

/** `SERVICE:A,B…` → the service and the non-empty names after the first ':'. */
function serviceAndList(flag: string): { service: string; names: string[] } {
  const colon = flag.indexOf(':');
  if (colon < 0) return { service: flag, names: [] };
  return {
    service: flag.slice(0, colon),
    names: flag
      .slice(colon + 1)
      .split(',')
      .filter((name) => name !== ''),
  };
}

/**
 * Each `--exchange SERVICE:SUBJECT,SUBJECT…` gives the `--grant` of that service its
 * `exchange` (whom the client may act for), and each `--exchange-actors SERVICE:CLIENT_ID,…`
 * that exchange's actors. Grants are given whole on the command line, so an exchange or its
 * actors without the `--grant` (or the `--exchange`) of their service is a usage error:
 * neither is ever dropped unseen.
 */
function withExchanges(
  grants: GrantInput[] | undefined,
  exchanges: string[] | undefined,
  actors: string[] | undefined,
): GrantInput[] | undefined {
  const grantOf = (flag: string, service: string) => {
    const grant = grants?.find((candidate) => candidate.service === service);
    if (grant === undefined) throw new UsageError(`${flag} ${service}: give the grant of that service with --grant as well`);
    return grant;
  };
  for (const flag of exchanges ?? []) {
    const { service, names } = serviceAndList(flag);
    grantOf('--exchange', service).exchange = { subjects: names };
  }
  for (const flag of actors ?? []) {
    const { service, names } = serviceAndList(flag);
    const exchange = grantOf('--exchange-actors', service).exchange;
    if (exchange === undefined) throw new UsageError(`--exchange-actors ${service}: give the --exchange of that service as well`);
    exchange.actors = names;
  }
  return grants;
}

/** `--may-act none` clears the list; otherwise the client_ids given. */
function mayActFlag(values: string[] | undefined): string[] | null | undefined {
  if (values === undefined) return undefined;
  return values.length === 1 && values[0] === 'none' ? null : values;
}

/**
 * The key fields of a client (create and update): `--jwks` is JSON text, or a file that
 * holds it; each `--federated-identity` is one identity (see parseFederatedIdentity).
 */
function keyFlags(flags: Flags) {
  return {
    auth_method: flags['auth-method'],
    jwks: flags.jwks === undefined ? undefined : jsonOrFile('jwks', flags.jwks, 'a JWKS, {"keys": […]}'),
    jwks_uri: flags['jwks-uri'],
    federated_identities: flags['federated-identity']?.map(parseFederatedIdentity),
    tls_client_auth_subject_dn: flags['tls-subject-dn'],
    tls_client_auth_san_dns: flags['tls-san-dns'],
    tls_client_auth_san_uri: flags['tls-san-uri'],
    tls_client_auth_san_ip: flags['tls-san-ip'],
    tls_client_auth_san_email: flags['tls-san-email'],
    tls_client_certificate_bound_access_tokens: negatableFlag(flags, 'certificate-bound'),
  };
}

/**
 * `ISSUER_ID:SUBJECT` → { issuer, subject }: issuer ids have no ':', so the first one
 * separates and the rest, colons and all, is the subject
 * (`prod-cluster:system:serviceaccount:payments:reporter`). An identity with claims is
 * given as its JSON instead (`{"issuer": "github", "subject": "repo:…", "claims": {…}}`).
 */
function parseFederatedIdentity(flag: string): unknown {
  if (flag.trimStart().startsWith('{')) {
    try {
      return JSON.parse(flag);
    } catch {
      throw new UsageError('--federated-identity: not JSON (give ISSUER_ID:SUBJECT, or {"issuer", "subject", "claims"})');
    }
  }
  const colon = flag.indexOf(':');
  if (colon < 0) throw new UsageError(`--federated-identity: "${flag}" is not ISSUER_ID:SUBJECT`);
  return { issuer: flag.slice(0, colon), subject: flag.slice(colon + 1) };
}

/** Prints a client, then a secret it was just given (create, or a switch to client_secret). */
function printClient(out: CliOutput, client: unknown, clientSecret: string | undefined): void {
  print(out, client);
  if (clientSecret !== undefined) {
    out.stderr('\nclient_secret (shown this once; only its hash is stored):\n');
    out.stdout(`${clientSecret}\n`);
  }
}

/** --dpop-bound or --no-dpop-bound (Node 20's parseArgs has no negated booleans). */
function dpopBoundFlag(flags: Flags): boolean | undefined {
  return negatableFlag(flags, 'dpop-bound');
}

/** `portier clients …`: the same functions as /admin/clients. */
export const clientsCommand: CommandGroup = async (session, sub, args, flags) => {
  const { out, actor } = session;
  const { db } = session.database;
  switch (sub) {
    case 'create': {
      const input = validate(
        createClientBody,
        definedOnly({
          client_id: flags['client-id'],
          owner: flags.owner,
          ...editableClientFlags(flags),
          expires_at: flags['expires-at'],
          ...keyFlags(flags),
        }),
      );
      const { client, clientSecret } = await createClient(db, input, actor, {
        now: session.clock(),
        secretPrefix: session.credentials.secretPrefix,
        maxLifetimeDays: session.credentials.maxLifetimeDays,
        maxCredentialsPerClient: session.credentials.maxPerClient,
      });
      printClient(out, client, clientSecret);
      return;
    }
    case 'list': {
      const query = validate(
        listClientsQuery,
        definedOnly({
          name: flags.name,
          owner: flags.owner,
          created_by: flags['created-by'],
          status: flags.status,
          service: flags.service,
          expires_before: flags['expires-before'],
          expires_after: flags['expires-after'],
          limit: flags.limit === undefined ? undefined : Number(flags.limit),
          sort: flags.sort,
          cursor: flags.cursor,
        }),
      );
      const { limit, cursor, sort, ...filters } = query;
      print(out, await listClients(db, filters, { limit, cursor, sort }, session.clock()));
      return;
    }
    case 'get': {
      const clientId = one(args, 'client_id');
      const client = await getClient(db, clientId, session.clock());
      if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
      print(out, client);
      return;
    }
    case 'update': {
      const clientId = one(args, 'client_id');
      const expiresAt = flags['expires-at'] === 'none' ? null : flags['expires-at'];
      const patch = validate(
        patchClientBody,
        definedOnly({ owner: flags.owner, ...editableClientFlags(flags), expires_at: expiresAt, ...keyFlags(flags) }),
      );
      const { client, clientSecret } = await updateClient(db, clientId, patch, actor, session.clock(), undefined, session.credentials);
      printClient(out, client, clientSecret);
      return;
    }
    case 'disable':
    case 'enable': {
      if (args.length === 0) throw new UsageError('missing client_id');
      const results = await bulkSetEnabled(db, args, sub === 'enable', actor, session.clock());
      print(out, { results });
      if (results.some((result) => !result.ok)) session.failed = true;
      return;
    }
    case 'delete':
      await deleteClient(db, one(args, 'client_id'), actor);
      out.stderr('deleted\n');
      return;
    case 'credentials':
      await credentialsCommand(session, args, flags);
      return;
    case 'rotate-secret': {
      const clientId = one(args, 'client_id');
      const grace = Number(flags['previous-valid-for'] ?? 0);
      const { clientSecret, previousSecretExpiresAt } = await regenerateSecret(
        db,
        clientId,
        grace,
        actor,
        session.clock(),
        session.credentials,
      );
      out.stderr(
        previousSecretExpiresAt === null
          ? 'the previous secret no longer works\n'
          : `the previous secret works until ${previousSecretExpiresAt}\n`,
      );
      out.stderr('client_secret (shown this once; only its hash is stored):\n');
      out.stdout(`${clientSecret}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown clients command "${sub ?? ''}"`);
  }
};

/** `portier clients credentials list|add|remove`: the same functions as /admin/clients/{id}/credentials. */
async function credentialsCommand(session: Session, args: string[], flags: Flags): Promise<void> {
  const { out, actor, credentials: settings } = session;
  const { db } = session.database;
  const [action, clientId, credentialId] = args;
  if (clientId === undefined) throw new UsageError('missing client_id');
  switch (action) {
    case 'list':
      print(out, { credentials: await listCredentials(db, clientId, session.clock(), undefined, settings) });
      return;
    case 'add': {
      const input = validate(
        newCredentialBody,
        definedOnly({
          kind: flags.kind ?? 'secret',
          description: flags.description,
          expires_at: flags['expires-at'],
          jwk: flags.jwk === undefined ? undefined : jsonOrFile('jwk', flags.jwk, 'a public JWK'),
          pem: flags.pem === undefined ? undefined : readPem(flags.pem),
        }),
      );
      const { credential, secret } = await addCredential(db, clientId, input, actor, session.clock(), settings);
      print(out, credential);
      if (secret !== undefined) {
        out.stderr('\nsecret (shown this once; only its hash is stored):\n');
        out.stdout(`${secret}\n`);
      }
      return;
    }
    case 'remove':
      if (credentialId === undefined) throw new UsageError('missing credential id');
      await removeCredential(db, clientId, credentialId, actor, session.clock());
      out.stderr('removed\n');
      return;
    default:
      throw new UsageError('clients credentials list|add|remove');
  }
}

function readPem(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--pem: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
