import { type IntlShape, useIntl } from 'react-intl';
import type { NewServiceBody, Service, ServicePatch } from '../api';
import { formText, optionalWholeNumber, readTokenShape, words } from '../format';
import type { MessageId } from '../i18n/messages';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { TokenShapeFields } from '../ui/TokenShapeFields';
import type { FormReading } from '../ui/useFormSubmission';

/** The fields every service form sends, or what is wrong with its lifetime or claims. */
function readCommonFields(form: FormData, intl: IntlShape) {
  const value = (name: string) => formText(form, name);
  const shape = readTokenShape(value, intl);
  if (Object.keys(shape.errors).length > 0) return { ok: false as const, errors: shape.errors };
  return { ok: true as const, value, body: { name: value('name'), description: value('description'), ...shape.body } };
}

/**
 * The catalogue fields of a service (not a built-in one's: those cannot change), with what
 * it offers operators, or what is wrong with the lifetime they may choose.
 */
function catalogueFields(form: FormData, value: (name: string) => string, intl: IntlShape) {
  const maxTtl = optionalWholeNumber(value('self_service_max_access_token_ttl'));
  if (maxTtl === undefined) {
    return { ok: false as const, errors: { self_service_max_access_token_ttl: [intl.formatMessage({ id: 'service.maxTtlInvalid' })] } };
  }
  return {
    ok: true as const,
    body: {
      audience: value('audience'),
      scopes: words(value('scopes')),
      self_service: form.get('self_service') === 'on',
      self_service_roles: words(value('self_service_roles')),
      self_service_max_access_token_ttl: maxTtl,
    },
  };
}

/** The new-service form's body. */
export function readNewService(form: FormData, intl: IntlShape): FormReading<NewServiceBody> {
  const common = readCommonFields(form, intl);
  if (!common.ok) return common;
  const catalogue = catalogueFields(form, common.value, intl);
  if (!catalogue.ok) return catalogue;
  return { ok: true, body: { id: common.value('id'), ...common.body, ...catalogue.body } };
}

/** The edit form's changes to `service`: its name, description and token shape only, when it is built in. */
export function readServiceChanges(form: FormData, service: Service, intl: IntlShape): FormReading<ServicePatch> {
  const common = readCommonFields(form, intl);
  if (!common.ok || service.built_in) return common;
  const catalogue = catalogueFields(form, common.value, intl);
  if (!catalogue.ok) return catalogue;
  return { ok: true, body: { ...common.body, ...catalogue.body } };
}

/**
 * A service's fields, for the new-service form (`withId`) and the edit form (filled in from
 * `service`). A built-in service's audience and scopes are read-only.
 */
export function ServiceFields({ service, errors, withId }: { service?: Service; errors: Record<string, string[]>; withId: boolean }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const { aria, error } = fieldErrorViews(errors, 'service-error-');
  const fixed = service?.built_in === true;
  return (
    <>
      {withId && (
        <>
          <label htmlFor="service-id">{say('service.idField')}</label>
          <input id="service-id" name="id" required {...aria('id')} />
          {error('id')}
        </>
      )}
      <label htmlFor="service-name">{say('client.name')}</label>
      <input id="service-name" name="name" required defaultValue={service?.name} {...aria('name')} />
      {error('name')}
      <label htmlFor="service-audience">{say('service.audienceField')}</label>
      <input id="service-audience" name="audience" required defaultValue={service?.audience} readOnly={fixed} {...aria('audience')} />
      {error('audience')}
      <label htmlFor="service-scopes">{say('service.scopesField')}</label>
      <input id="service-scopes" name="scopes" defaultValue={service?.scopes.join(' ')} readOnly={fixed} {...aria('scopes')} />
      {error('scopes')}
      <label htmlFor="service-description">{say('client.description')}</label>
      <textarea id="service-description" name="description" rows={2} defaultValue={service?.description} {...aria('description')} />
      {error('description')}
      {!fixed && (
        <>
          <fieldset>
            <legend>{say('service.selfService')}</legend>
            <label className="check">
              <input name="self_service" type="checkbox" defaultChecked={service?.self_service === true} {...aria('self_service')} />
              {say('service.selfServiceField')}
            </label>
            {error('self_service')}
            <label htmlFor="service-self-service-roles">{say('service.operatorRolesField')}</label>
            <input
              id="service-self-service-roles"
              name="self_service_roles"
              defaultValue={service?.self_service_roles.join(' ')}
              {...aria('self_service_roles')}
            />
            {error('self_service_roles')}
            <label htmlFor="service-self-service-max-ttl">{say('service.operatorMaxTtlField')}</label>
            <input
              id="service-self-service-max-ttl"
              name="self_service_max_access_token_ttl"
              inputMode="numeric"
              defaultValue={service?.self_service_max_access_token_ttl ?? ''}
              {...aria('self_service_max_access_token_ttl')}
            />
            {error('self_service_max_access_token_ttl')}
          </fieldset>
        </>
      )}
      <TokenShapeFields
        idPrefix="service"
        errorPrefix="service-error-"
        ttl={service?.access_token_ttl ?? null}
        claims={service?.claims ?? {}}
        inherit={say('service.ttlInherit')}
        errors={errors}
      />
    </>
  );
}
