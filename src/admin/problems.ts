import type { FastifyError, FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import { isConstraintViolation, isDatabaseUnavailable } from '../db/errors.js';
import { ConflictError, type FieldError, ForbiddenError, RuleError, ValidationError } from '../lib/errors.js';
import { fieldErrors } from '../lib/validation.js';
import { Overloaded } from '../protection/admission.js';
import type { problemResponse } from '../schemas/common.js';
import { AdminAuthError } from './auth.js';

/** An RFC 9457 problem document. */
export type Problem = Static<typeof problemResponse>;

const PROBLEM_BASE = 'urn:portier:problem:';

/** Fastify's schema validation errors, as `{ path, message }` per bad field. */
function validationErrors(error: FastifyError): FieldError[] {
  const prefix = error.validationContext === 'body' ? '' : `/${error.validationContext ?? 'request'}`;
  return fieldErrors(error.validation ?? [], prefix);
}

/** Turns any error into a problem document; a 5xx never shows its message. */
export function toProblem(error: FastifyError | Error): Problem {
  if (error instanceof AdminAuthError) {
    return {
      type: `${PROBLEM_BASE}${error.status === 401 ? 'unauthorized' : 'forbidden'}`,
      title: error.status === 401 ? 'Unauthorized' : 'Forbidden',
      status: error.status,
      detail: error.message,
    };
  }
  if (error instanceof ValidationError) {
    return {
      type: `${PROBLEM_BASE}validation`,
      title: error.title,
      status: 400,
      detail: error.detail,
      errors: error.errors,
    };
  }
  if (error instanceof RuleError) {
    const problem: Problem = {
      type: `${PROBLEM_BASE}${error.title.toLowerCase().replace(/ /g, '-')}`,
      title: error.title,
      status: error.status,
      detail: error.message,
    };
    if (error instanceof ConflictError && Array.isArray(error.extra.clients)) problem.clients = error.extra.clients as string[];
    if (error instanceof ForbiddenError && error.errors.length > 0) problem.errors = error.errors;
    return problem;
  }
  if (isConstraintViolation(error)) {
    return {
      type: `${PROBLEM_BASE}conflict`,
      title: 'Conflict',
      status: 409,
      detail: 'the change conflicts with another change made at the same time; read the current state and try again',
    };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return {
      type: `${PROBLEM_BASE}validation`,
      title: 'Invalid request',
      status: 400,
      detail: 'the request has invalid fields',
      errors: validationErrors(fastifyError),
    };
  }
  if (isDatabaseUnavailable(error) || error instanceof Overloaded) {
    return {
      type: `${PROBLEM_BASE}unavailable`,
      title: 'Service Unavailable',
      status: 503,
      detail: 'temporarily unable to handle the request; retry later',
    };
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { type: `${PROBLEM_BASE}bad-request`, title: 'Bad Request', status, detail: fastifyError.message };
  }
  return { type: `${PROBLEM_BASE}internal`, title: 'Internal Server Error', status: 500, detail: 'internal error' };
}

/** Writes the problem document for `error`, with the headers its status needs. Logging is the caller's. */
export function sendProblem(error: FastifyError | Error, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error);
  if (error instanceof AdminAuthError) reply.header('www-authenticate', error.challenge);
  if (problem.status === 503) reply.header('retry-after', '1');
  return reply.status(problem.status).type('application/problem+json').send(problem);
}
