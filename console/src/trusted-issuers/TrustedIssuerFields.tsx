import { useState } from 'react';
import { type IntlShape, useIntl } from 'react-intl';
import type { NewTrustedIssuerBody, TrustedIssuer, TrustedIssuerPatch } from '../api';
import { formText } from '../format';
import type { MessageId } from '../i18n/messages';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import type { FormReading } from '../ui/useFormSubmission';
import { IssuerUsesFields, readIssuerUses } from './IssuerUses';
import { ALGORITHMS, DEFAULT_MAX_TOKEN_AGE, type IssuerFormValues, issuerFormBody, type KeySource, keySourceOf } from './issuer-form';

const SOURCES: Array<[KeySource, MessageId]> = [
  ['discovery', 'issuer.sourceDiscovery'],
  ['jwks_uri', 'issuer.sourceUrl'],
  ['jwks', 'issuer.sourcePasted'],
];

/** The values of the issuer form, read from its fields. */
function readIssuerForm(form: FormData): IssuerFormValues {
  const text = (name: string) => String(form.get(name) ?? '');
  return {
    issuer: text('issuer'),
    source: (text('key_source') || 'discovery') as KeySource,
    jwksUri: text('jwks_uri'),
    jwksText: text('jwks'),
    audience: text('audience'),
    maxTokenAge: text('max_token_age'),
    algorithms: ALGORITHMS.filter((alg) => form.get(`alg-${alg}`) !== null),
  };
}

/** The edit form's body: every field, so that it replaces what was there. */
export function readIssuerChanges(form: FormData, intl: IntlShape): FormReading<TrustedIssuerPatch> {
  const made = issuerFormBody(readIssuerForm(form), intl);
  return made.ok ? { ok: true, body: { ...made.body, ...readIssuerUses(form) } } : made;
}

/** The new-issuer form's body: the edit form's, and the id. */
export function readNewIssuer(form: FormData, intl: IntlShape): FormReading<NewTrustedIssuerBody> {
  const made = issuerFormBody(readIssuerForm(form), intl);
  return made.ok ? { ok: true, body: { id: formText(form, 'id'), ...made.body, ...readIssuerUses(form) } } : made;
}

/**
 * A trusted issuer's fields, for the new-issuer form (`withId`) and the edit form (filled
 * in from `issuer`): the issuer URL, where its keys come from, the audience its tokens
 * must carry, how old a token may be, and the algorithms it may sign with.
 */
export function TrustedIssuerFields({
  issuer,
  errors,
  withId,
}: {
  issuer?: TrustedIssuer;
  errors: Record<string, string[]>;
  withId: boolean;
}) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const { aria, error } = fieldErrorViews(errors, 'issuer-error-');
  const [source, setSource] = useState<KeySource>(keySourceOf(issuer));
  return (
    <>
      {withId && (
        <>
          <label htmlFor="issuer-id">{say('issuer.idField')}</label>
          <input id="issuer-id" name="id" required {...aria('id')} />
          {error('id')}
        </>
      )}
      <label htmlFor="issuer-url">{say('issuer.issuerField')}</label>
      <input
        id="issuer-url"
        name="issuer"
        required
        placeholder="https://token.actions.githubusercontent.com"
        defaultValue={issuer?.issuer}
        {...aria('issuer')}
      />
      {error('issuer')}
      <fieldset>
        <legend>{say('issuer.keysLegend')}</legend>
        {SOURCES.map(([value, label]) => (
          <label key={value} className="check">
            <input type="radio" name="key_source" value={value} checked={source === value} onChange={() => setSource(value)} />
            {say(label)}
          </label>
        ))}
        {source === 'jwks_uri' && (
          <>
            <label htmlFor="issuer-jwks-uri">{say('issuer.keySetUrl')}</label>
            <input id="issuer-jwks-uri" name="jwks_uri" required defaultValue={issuer?.jwks_uri ?? ''} {...aria('jwks_uri')} />
          </>
        )}
        {error('jwks_uri')}
        {source === 'jwks' && (
          <>
            <label htmlFor="issuer-jwks">{say('issuer.publicKeys')}</label>
            <textarea
              id="issuer-jwks"
              name="jwks"
              rows={5}
              required
              placeholder='{"keys": [{"kty": "RSA", "kid": "…", "n": "…", "e": "AQAB"}]}'
              defaultValue={issuer?.jwks == null ? '' : JSON.stringify(issuer.jwks, null, 2)}
              {...aria('jwks')}
            />
          </>
        )}
        {error('jwks')}
      </fieldset>
      <label htmlFor="issuer-audience">{say('issuer.audienceField')}</label>
      <input id="issuer-audience" name="audience" defaultValue={issuer?.audience ?? ''} {...aria('audience')} />
      {error('audience')}
      <label htmlFor="issuer-max-age">{say('issuer.maxAgeField')}</label>
      <input
        id="issuer-max-age"
        name="max_token_age"
        type="number"
        min={60}
        max={86_400}
        defaultValue={issuer?.max_token_age ?? DEFAULT_MAX_TOKEN_AGE}
        {...aria('max_token_age')}
      />
      {error('max_token_age')}
      <fieldset aria-describedby={errors.algorithms === undefined ? undefined : 'issuer-error-algorithms'}>
        <legend>{say('issuer.algorithmsLegend')}</legend>
        {ALGORITHMS.map((alg) => (
          <label key={alg} className="check">
            <input type="checkbox" name={`alg-${alg}`} defaultChecked={issuer === undefined || issuer.algorithms.includes(alg)} />
            {alg}
          </label>
        ))}
        {error('algorithms')}
      </fieldset>
      <IssuerUsesFields issuer={issuer} />
    </>
  );
}
