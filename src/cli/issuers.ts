import {
  createTrustedIssuer,
  deleteTrustedIssuer,
  getTrustedIssuer,
  listTrustedIssuers,
  updateTrustedIssuer,
} from '../federation/trusted-issuers.js';
import { createTrustedIssuerBody, patchTrustedIssuerBody } from '../schemas/trusted-issuers.js';
import { type CommandGroup, definedOnly, jsonOrFile, negatableFlag, one, print, UsageError, validate } from './common.js';
import type { Flags } from './options.js';

/** The fields of a trusted issuer from the flags, as the admin API names them (`none` clears a nullable one). */
function issuerFlags(flags: Flags) {
  const nullable = (value: string | undefined) => (value === 'none' ? null : value);
  const age = flags['max-token-age'];
  return {
    issuer: flags.issuer,
    jwks_uri: nullable(flags['jwks-uri']),
    jwks: flags.jwks === undefined ? undefined : flags.jwks === 'none' ? null : jsonOrFile('jwks', flags.jwks, 'a JWKS, {"keys": […]}'),
    audience: nullable(flags.audience),
    max_token_age: age === undefined ? undefined : /^\d+$/.test(age) ? Number(age) : age,
    algorithms: flags.algorithm,
    token_exchange: negatableFlag(flags, 'token-exchange'),
    jwt_bearer: negatableFlag(flags, 'jwt-bearer'),
  };
}

/** `portier issuers …`: the same functions as /admin/trusted-issuers. */
export const issuersCommand: CommandGroup = async (session, sub, args, flags) => {
  const { out, actor } = session;
  const { db } = session.database;
  switch (sub) {
    case 'list':
      print(out, { items: await listTrustedIssuers(db) });
      return;
    case 'get':
      print(out, await getTrustedIssuer(db, one(args, 'trusted issuer id')));
      return;
    case 'create': {
      const input = validate(createTrustedIssuerBody, definedOnly({ id: flags.id, ...issuerFlags(flags) }));
      print(out, await createTrustedIssuer(db, input, actor));
      return;
    }
    case 'update': {
      const patch = validate(patchTrustedIssuerBody, definedOnly(issuerFlags(flags)));
      print(out, await updateTrustedIssuer(db, one(args, 'trusted issuer id'), patch, actor));
      return;
    }
    case 'delete':
      await deleteTrustedIssuer(db, one(args, 'trusted issuer id'), actor);
      out.stderr('deleted\n');
      return;
    default:
      throw new UsageError(`unknown issuers command "${sub ?? ''}"`);
  }
};
