import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { ProblemLike } from '../format';
import { explainFieldErrors, explainProblem } from '../i18n/problems';

/** Errors by form field (i18n/problems' explainFieldErrors); `form` holds those of no field in particular. */
export type FieldErrors = Record<string, string[]>;

/** What a form's values make: the body to send, or what the browser can already tell is wrong, by field. */
export type FormReading<Body> = { ok: true; body: Body } | { ok: false; errors: FieldErrors };

/** An admin API answer: its data, or the problem. */
export type Answer<Data> = Promise<{ data?: Data; error?: ProblemLike }>;

/**
 * A form that sends what it holds to the admin API, with its errors by field and a notice
 * of what it did. `submit` clears both, reads the form, and sends the body when the form
 * reads well; it gives the API's data, or undefined when there is an error to show instead
 * (`failure`, the form's own sentence, explained as i18n/problems.ts does).
 */
export function useFormSubmission() {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<string | null>(null);
  const intl = useIntl();

  const submit = async <Body, Data>(
    event: FormEvent<HTMLFormElement>,
    read: (form: FormData) => FormReading<Body>,
    send: (body: Body) => Answer<Data>,
    failure: string,
  ): Promise<Data | undefined> => {
    event.preventDefault();
    const reading = read(new FormData(event.currentTarget));
    setErrors({});
    setNotice(null);
    if (!reading.ok) {
      setErrors(reading.errors);
      return undefined;
    }
    try {
      const { data, error } = await send(reading.body);
      if (data === undefined) setErrors(explainFieldErrors(intl, error, failure));
      return data;
    } catch (thrown) {
      setErrors({ form: [explainProblem(intl, thrown, failure)] });
      return undefined;
    }
  };

  return { errors, setErrors, notice, setNotice, submit };
}
