import type { NewServiceBody, Service, ServicePatch } from '../api';
import { formText, optionalWholeNumber, readTokenShape, words } from '../format';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { TokenShapeFields } from '../ui/TokenShapeFields';
import type { FormReading } from '../ui/useFormSubmission';

/** The fields every service form sends, or what is wrong with its lifetime or claims. */
function readCommonFields(form: FormData) {
  const value = (name: string) => formText(form, name);
  const shape = readTokenShape(value);
  if (Object.keys(shape.errors).length > 0) return { ok: false as const, errors: shape.errors };
  return { ok: true as const, value, body: { name: value('name'), description: value('description'), ...shape.body } };
}

/**
 * The catalogue fields of a service (not a built-in one's: those cannot change), with what
 * it offers operators, or what is wrong with the lifetime they may choose.
 */
function catalogueFields(form: FormData, value: (name: string) => string) {
  const maxTtl = optionalWholeNumber(value('self_service_max_access_token_ttl'));
  if (maxTtl === undefined) {
    return { ok: false as const, errors: { self_service_max_access_token_ttl: ['a whole number of seconds, or empty for none'] } };
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
export function readNewService(form: FormData): FormReading<NewServiceBody> {
  const common = readCommonFields(form);
  if (!common.ok) return common;
  const catalogue = catalogueFields(form, common.value);
  if (!catalogue.ok) return catalogue;
  return { ok: true, body: { id: common.value('id'), ...common.body, ...catalogue.body } };
}

/** The edit form's changes to `service`: its name, description and token shape only, when it is built in. */
export function readServiceChanges(form: FormData, service: Service): FormReading<ServicePatch> {
  const common = readCommonFields(form);
  if (!common.ok || service.built_in) return common;
  const catalogue = catalogueFields(form, common.value);
  if (!catalogue.ok) return catalogue;
  return { ok: true, body: { ...common.body, ...catalogue.body } };
}

/**
 * A service's fields, for the new-service form (`withId`) and the edit form (filled in from
 * `service`). A built-in service's audience and scopes are read-only.
 */
export function ServiceFields({ service, errors, withId }: { service?: Service; errors: Record<string, string[]>; withId: boolean }) {
  const { aria, error } = fieldErrorViews(errors, 'service-error-');
  const fixed = service?.built_in === true;
  return (
    <>
      {withId && (
        <>
          <label htmlFor="service-id">Service ID (can never change)</label>
          <input id="service-id" name="id" required {...aria('id')} />
          {error('id')}
        </>
      )}
      <label htmlFor="service-name">Name</label>
      <input id="service-name" name="name" required defaultValue={service?.name} {...aria('name')} />
      {error('name')}
      <label htmlFor="service-audience">Audience (the aud of its tokens)</label>
      <input id="service-audience" name="audience" required defaultValue={service?.audience} readOnly={fixed} {...aria('audience')} />
      {error('audience')}
      <label htmlFor="service-scopes">Scopes (separated by spaces)</label>
      <input id="service-scopes" name="scopes" defaultValue={service?.scopes.join(' ')} readOnly={fixed} {...aria('scopes')} />
      {error('scopes')}
      <label htmlFor="service-description">Description</label>
      <textarea id="service-description" name="description" rows={2} defaultValue={service?.description} {...aria('description')} />
      {error('description')}
      {!fixed && (
        <>
          <fieldset>
            <legend>Self-service</legend>
            <label className="check">
              <input name="self_service" type="checkbox" defaultChecked={service?.self_service === true} {...aria('self_service')} />
              Operators may grant it to their own clients
            </label>
            {error('self_service')}
            <label htmlFor="service-self-service-roles">
              Roles operators may give those clients (separated by spaces; empty: roles are set by admins)
            </label>
            <input
              id="service-self-service-roles"
              name="self_service_roles"
              defaultValue={service?.self_service_roles.join(' ')}
              {...aria('self_service_roles')}
            />
            {error('self_service_roles')}
            <label htmlFor="service-self-service-max-ttl">
              Longest token lifetime operators may choose, in seconds (60–86400; empty: lifetimes are set by admins)
            </label>
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
        inherit="the server's, ACCESS_TOKEN_TTL"
        errors={errors}
      />
    </>
  );
}
