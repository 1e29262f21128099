import { useIntl } from 'react-intl';
import type { TrustedIssuer } from '../api';

/** What a trusted issuer's tokens may be used for besides federated sign-in: read from the form. */
export function readIssuerUses(form: FormData): { token_exchange: boolean; jwt_bearer: boolean } {
  return { token_exchange: form.get('token_exchange') !== null, jwt_bearer: form.get('jwt_bearer') !== null };
}

/** The issuer's two delegation switches: its tokens as subject tokens of a token exchange, and as JWT bearer assertions. */
export function IssuerUsesFields({ issuer }: { issuer: TrustedIssuer | undefined }) {
  const intl = useIntl();
  return (
    <fieldset>
      <legend>{intl.formatMessage({ id: 'issuer.usesLegend' })}</legend>
      <label className="check">
        <input type="checkbox" name="token_exchange" defaultChecked={issuer?.token_exchange ?? false} />
        {intl.formatMessage({ id: 'issuer.usesExchange' }, { subject: `issuer:${issuer?.id ?? '<id>'}` })}
      </label>
      <label className="check">
        <input type="checkbox" name="jwt_bearer" defaultChecked={issuer?.jwt_bearer ?? false} />
        {intl.formatMessage({ id: 'issuer.usesJwtBearer' })}
      </label>
    </fieldset>
  );
}
