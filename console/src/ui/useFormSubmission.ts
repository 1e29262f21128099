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
 * A form that sends what it holds to the admin API, with its errors by field, a notice of
 * what it did, and whether a request is on its way (`busy`). `submit` clears the errors
 * and notice, reads the form, and sends the body when the form reads well; `run` sends a
 * request of no form (a button's). Both give the API's data, or undefined when there is an
 * error to show instead (`failure`, the form's own sentence, explained as
 * i18n/problems.ts does).
 */
export function useFormSubmission() {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const intl = useIntl();

  const run = async <Data>(send: () => Answer<Data>, failure: string): Promise<Data | undefined> => {
    setErrors({});
    setNotice(null);
    setBusy(true);
    try {
      const { data, error } = await send();
      if (data === undefined) setErrors(explainFieldErrors(intl, error, failure));
      return data;
    } catch (thrown) {
      setErrors({ form: [explainProblem(intl, thrown, failure)] });
      return undefined;
    } finally {
      setBusy(false);
    }
  };

  const submit = async <Body, Data>(
    event: FormEvent<HTMLFormElement>,
    read: (form: FormData) => FormReading<Body>,
    send: (body: Body) => Answer<Data>,
    failure: string,
  ): Promise<Data | undefined> => {
    event.preventDefault();
    const reading = read(new FormData(event.currentTarget));
    if (!reading.ok) {
      setErrors(reading.errors);
      setNotice(null);
      return undefined;
    }
    return run(() => send(reading.body), failure);
  };

  return { errors, setErrors, notice, setNotice, busy, submit, run };
}
