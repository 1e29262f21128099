import type { TrustedIssuer } from '../api';

/** What a trusted issuer's tokens may be used for besides federated sign-in: read from the form. */
export function readIssuerUses(form: FormData): { token_exchange: boolean; jwt_bearer: boolean } {
  return { token_exchange: form.get('token_exchange') !== null, jwt_bearer: form.get('jwt_bearer') !== null };
}

/** The issuer's two delegation switches: its tokens as subject tokens of a token exchange, and as JWT bearer assertions. */
export function IssuerUsesFields({ issuer }: { issuer: TrustedIssuer | undefined }) {
  return (
    <fieldset>
      <legend>Its tokens may also be used</legend>
      <label className="check">
        <input type="checkbox" name="token_exchange" defaultChecked={issuer?.token_exchange ?? false} />
        as the subject of a token exchange (RFC 8693), by clients whose grants list issuer:{issuer?.id ?? '<id>'}
      </label>
      <label className="check">
        <input type="checkbox" name="jwt_bearer" defaultChecked={issuer?.jwt_bearer ?? false} />
        as the assertion of the JWT bearer grant (RFC 7523), for the client whose identity matches
      </label>
    </fieldset>
  );
}
