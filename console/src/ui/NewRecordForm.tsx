import { type FormEvent, type ReactNode, useState } from 'react';
import { useIntl } from 'react-intl';
import type { MessageId } from '../i18n/messages';
import { FormStatus } from './StatusLines';
import { type Answer, type FieldErrors, type FormReading, useFormSubmission } from './useFormSubmission';

/** What a new-record form says: its heading and button, that it was created ({id}), and that it was not. */
export interface NewRecordMessages {
  heading: MessageId;
  submit: MessageId;
  created: MessageId;
  failed: MessageId;
}

/**
 * A list screen's form for a new record: its fields (`children`, given the errors by
 * field) are read by `read` and the body sent by `create`; once the record is created the
 * form says so, is emptied, and `onCreated` reloads the list.
 */
export function NewRecordForm<Body>({
  messages,
  headingId,
  read,
  create,
  onCreated,
  children,
}: {
  messages: NewRecordMessages;
  headingId: string;
  read: (form: FormData) => FormReading<Body>;
  create: (body: Body) => Answer<{ id: string }>;
  onCreated: () => Promise<void>;
  children: (errors: FieldErrors) => ReactNode;
}) {
  const { errors, notice, setNotice, submit } = useFormSubmission();
  const [formKey, setFormKey] = useState(0);
  const intl = useIntl();

  const send = async (event: FormEvent<HTMLFormElement>) => {
    const created = await submit(event, read, create, intl.formatMessage({ id: messages.failed }));
    if (created === undefined) return;
    setNotice(intl.formatMessage({ id: messages.created }, { id: created.id }));
    setFormKey((n) => n + 1);
    await onCreated();
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{intl.formatMessage({ id: messages.heading })}</h2>
      <FormStatus errors={errors} notice={notice} />
      <form className="stack" onSubmit={send} key={formKey} noValidate>
        {children(errors)}
        <div>
          <button type="submit">{intl.formatMessage({ id: messages.submit })}</button>
        </div>
      </form>
    </section>
  );
}
