/**
 * Errors of the client and service rules. They carry what the caller needs to fix the
 * request; the admin API turns them into RFC 9457 problems, the CLI into one line each.
 */
export class RuleError extends Error {
  readonly status: number = 400;
  readonly title: string = 'Bad Request';
}

export interface FieldError {
  /** JSON-pointer-like path of the field, e.g. `/grants/0/scopes/1`. */
  path: string;
  message: string;
}

export class ValidationError extends RuleError {
  override readonly title = 'Invalid request';
  constructor(
    readonly errors: FieldError[],
    /** The problem document's `detail`: what was invalid, as a whole. */
    readonly detail = 'the request has invalid fields',
  ) {
    super(errors.map((error) => `${error.path}: ${error.message}`).join('; '));
  }
}

/**
 * Allowed to no one in the caller's role (a person's role, an admin token's scope).
 * `errors`: the fields refused, when the refusal is about fields of the request.
 */
export class ForbiddenError extends RuleError {
  override readonly status = 403;
  override readonly title = 'Forbidden';
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

export class NotFoundError extends RuleError {
  override readonly status = 404;
  override readonly title = 'Not Found';
}

export class ConflictError extends RuleError {
  override readonly status = 409;
  override readonly title = 'Conflict';
  constructor(
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
