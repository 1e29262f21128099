import { type FormEvent, useState } from 'react';
import { fieldErrors, type ProblemLike } from '../format';

/** Errors by form field (format's fieldErrors); `form` holds those of no field in particular. */
export type FieldErrors = Record<string, string[]>;

/** What a form's values make: the body to send, or what the browser can already tell is wrong, by field. */
export type FormReading<Body> = { ok: true; body: Body } | { ok: false; errors: FieldErrors };

/** An admin API answer: its data, or the problem. */
export type Answer<Data> = Promise<{ data?: Data; error?: ProblemLike }>;

/**
 * A form that sends what it holds to the admin API, with its errors by field and a notice
 * of what it did. `submit` clears both, reads the form, and sends the body when the form
 * reads well; it gives the API's data, or undefined when there is an error to show instead.
 */
export function useFormSubmission() {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<string | null>(null);

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
    const { data, error } = await send(reading.body);
    if (data === undefined) setErrors(fieldErrors(error, failure));
    return data;
  };

  return { errors, setErrors, notice, setNotice, submit };
}
