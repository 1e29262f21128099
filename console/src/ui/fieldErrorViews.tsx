/**
 * How a form shows its errors by field (format's fieldErrors): a paragraph after each field
 * whose id starts with `prefix`, the field marked invalid and described by it, and the
 * errors of no field in particular as an alert.
 */
export function fieldErrorViews(errors: Record<string, string[]>, prefix: string) {
  const describedBy = (name: string) => (errors[name] === undefined ? undefined : `${prefix}${name}`);
  return {
    describedBy,
    /** aria-invalid and aria-describedby for the field's input, when it has an error. */
    aria: (name: string) => (errors[name] === undefined ? {} : { 'aria-invalid': true as const, 'aria-describedby': `${prefix}${name}` }),
    error: (name: string) =>
      errors[name] === undefined ? null : (
        <p className="field-error" id={describedBy(name)}>
          {errors[name].join('; ')}
        </p>
      ),
    formError: () =>
      errors.form === undefined ? null : (
        <p className="error" role="alert">
          {errors.form.join('; ')}
        </p>
      ),
  };
}
