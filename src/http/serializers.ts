import fastJsonStringify from 'fast-json-stringify';

/**
 * Fastify compiles a serializer (fast-json-stringify) for every response schema of every
 * route each time an app is built: some 50 ms of CPU for Portier's routes. The schemas are
 * module constants and no route refers to shared schemas (`addSchema`), so a serializer
 * depends on its schema object alone and is compiled once per process, whatever number of
 * apps are built (the tests build hundreds).
 */
const serializers = new WeakMap<object, (data: unknown) => string>();

/** A serializer compiler for `app.setSerializerCompiler` that compiles each schema object once. */
export function serializerOf({ schema }: { schema: unknown }): (data: unknown) => string {
  const key = schema as object;
  let serialize = serializers.get(key);
  if (serialize === undefined) {
    serialize = fastJsonStringify(schema as Parameters<typeof fastJsonStringify>[0]) as (data: unknown) => string;
    serializers.set(key, serialize);
  }
  return serialize;
}
