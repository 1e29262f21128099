import { type FormEvent, type ReactNode, useState } from 'react';
import { FormStatus } from './StatusLines';
import { type Answer, type FieldErrors, type FormReading, useFormSubmission } from './useFormSubmission';

/**
 * A list screen's form for a new record (a `what`, such as "service"): its fields
 * (`children`, given the errors by field) are read by `read` and the body sent by
 * `create`; once the record is created the form says so, is emptied, and `onCreated`
 * reloads the list.
 */
export function NewRecordForm<Body>({
  what,
  headingId,
  read,
  create,
  onCreated,
  children,
}: {
  what: string;
  headingId: string;
  read: (form: FormData) => FormReading<Body>;
  create: (body: Body) => Answer<{ id: string }>;
  onCreated: () => Promise<void>;
  children: (errors: FieldErrors) => ReactNode;
}) {
  const { errors, notice, setNotice, submit } = useFormSubmission();
  const [formKey, setFormKey] = useState(0);

  const send = async (event: FormEvent<HTMLFormElement>) => {
    const created = await submit(event, read, create, `The ${what} could not be created.`);
    if (created === undefined) return;
    setNotice(`${what.charAt(0).toUpperCase()}${what.slice(1)} ${created.id} created.`);
    setFormKey((n) => n + 1);
    await onCreated();
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>New {what}</h2>
      <FormStatus errors={errors} notice={notice} />
      <form className="stack" onSubmit={send} key={formKey} noValidate>
        {children(errors)}
        <div>
          <button type="submit">Create {what}</button>
        </div>
      </form>
    </section>
  );
}
