import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { applyConfig, exportConfig } from '../config-as-code/apply.js';
import { checkDocument, configSchemaDocument, formatDocument, parseDocumentText, YAML_MEDIA_TYPES } from '../config-as-code/document.js';
import { textValidator } from '../lib/validation.js';
import * as config from '../schemas/config.js';
import { actor, inArea, problems, secured } from './route-options.js';

/** A configuration document may be large: a few thousand clients fit in 4 MiB. */
const CONFIG_BODY_LIMIT = 4 * 1024 * 1024;
/**
 * How long an apply's connection may stay silent while the apply runs, instead of the
 * server's 30 s: the largest document (5,000 new clients, each with a secret to hash)
 * takes minutes on two cores. See docs/configuration-as-code.md.
 */
export const CONFIG_APPLY_TIMEOUT_MS = 15 * 60_000;

/**
 * /admin/config: the configuration as code (src/config-as-code/). The document is JSON,
 * or YAML with `Content-Type: application/yaml` (to apply) or `Accept: application/yaml`
 * (to export).
 */
export const configRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  inArea(app, 'config');

  // YAML arrives as text and is parsed by the same function as the CLI's files; JSON by
  // Fastify's parser; nothing else (not text/plain) is a document. (This plugin's own
  // parsers: the other admin routes take JSON only.)
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser([...YAML_MEDIA_TYPES], { parseAs: 'string', bodyLimit: CONFIG_BODY_LIMIT }, (_request, body, done) =>
    done(null, body),
  );

  app.get(
    '/config',
    {
      schema: {
        tags: ['config'],
        security: secured,
        description: 'The configuration as a document (JSON, or YAML with `Accept: application/yaml`). It never contains a secret.',
        response: { 200: config.configDocument, ...problems },
      },
    },
    async (request, reply) => {
      const document = await exportConfig(portier.db, portier.clock());
      if (!prefersYaml(request.headers.accept)) return document;
      // A string is sent as it is, not through the JSON serializer of the schema.
      const yaml = formatDocument(document, 'yaml') as unknown as config.ConfigDocument;
      return reply.type('application/yaml; charset=utf-8').send(yaml);
    },
  );

  app.get(
    '/config/schema',
    {
      schema: {
        tags: ['config'],
        security: secured,
        description: 'A JSON Schema of the configuration document, for editors to check YAML and JSON files against.',
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => configSchemaDocument(),
  );

  app.post(
    '/config/apply',
    {
      bodyLimit: CONFIG_BODY_LIMIT,
      // The body is checked by checkDocument, which names each error's place in the
      // document (`clients[3].grants[0].service`), for JSON and YAML alike: the body schema
      // here only documents it. The query string is checked as everywhere else.
      validatorCompiler: ({ schema, httpPart }) => (httpPart === 'body' ? () => true : textValidator.compile(schema)),
      schema: {
        tags: ['config'],
        security: secured,
        description:
          'Applies a configuration document (JSON, or YAML with `Content-Type: application/yaml`) in one transaction: entirely, or not at all.',
        querystring: config.applyQuery,
        body: config.configDocument,
        response: { 200: config.applyResult, ...problems },
      },
    },
    async (request, reply) => {
      const body: unknown = request.body;
      const document = checkDocument(typeof body === 'string' ? parseDocumentText(body, 'yaml') : body);
      keepConnectionOpen(request, reply, CONFIG_APPLY_TIMEOUT_MS, app.server.timeout);
      const signal = abortedWhenGone(reply);
      let result: config.ApplyResult;
      try {
        result = await applyConfig(portier.database, document, {
          dryRun: request.query.dry_run === true,
          prune: request.query.prune === true,
          actor: actor(request),
          now: portier.clock(),
          signal,
          secretPrefix: portier.config.secretPrefix,
          maxCredentialsPerClient: portier.config.maxCredentialsPerClient,
          maxLifetimeDays: portier.config.credentialMaxLifetimeDays,
        });
      } catch (error) {
        if (!signal.aborted) throw error;
        request.log.warn({ actor: actor(request).clientId }, 'configuration apply abandoned: the caller disconnected; nothing was changed');
        return reply;
      }
      request.log.info(
        { applied: result.applied, changes: result.changes.length, actor: actor(request).clientId },
        'configuration document applied',
      );
      return result;
    },
  );
};

/** Whether an Accept header ranks a YAML media type above JSON (the first listed wins a tie). */
export function prefersYaml(accept: string | undefined): boolean {
  let best: { yaml: boolean; q: number } | undefined;
  for (const part of (accept ?? '').split(',')) {
    const [type = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const yaml = (YAML_MEDIA_TYPES as readonly string[]).includes(type);
    if (!yaml && type !== 'application/json') continue;
    const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (Number.isFinite(q) && q > 0 && (best === undefined || q > best.q)) best = { yaml, q };
  }
  return best?.yaml === true;
}

/**
 * Lets this request's connection stay silent for `ms` (the server's idle timeout would
 * close it while a long apply runs), and gives it back the server's `usual` timeout once
 * the answer is sent, for the requests that follow on it.
 */
function keepConnectionOpen(request: FastifyRequest, reply: FastifyReply, ms: number, usual: number): void {
  const socket = request.raw.socket;
  if (typeof socket?.setTimeout !== 'function') return;
  socket.setTimeout(ms);
  reply.raw.once('finish', () => socket.setTimeout(usual));
}

/** A signal that aborts when the connection closes before the answer was sent. */
function abortedWhenGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the caller disconnected before the answer'));
  });
  return controller.signal;
}
