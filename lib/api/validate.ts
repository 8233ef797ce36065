/**
 * Request validation driven by the OpenAPI document: path templates become the router's patterns,
 * and the parameter and body schemas are compiled with ajv (JSON Schema 2020-12, the OpenAPI 3.1
 * dialect). Nothing here restates a schema, so the document cannot drift from the behaviour.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { InputError } from '../core/errors.js';
import { openapiDocument } from './openapi.js';

const DOC_ID = 'openapi.json';
/** Top-level OpenAPI keys: known to ajv as annotations so strict mode accepts the document as a schema root. */
const OPENAPI_KEYS = [
  'openapi',
  'info',
  'servers',
  'paths',
  'components',
  'tags',
  'webhooks',
  'externalDocs',
  'security',
  'jsonSchemaDialect',
];

type Json = Record<string, any>;

/** One operation of the document, ready to match a path and validate a request. */
export interface Operation {
  readonly method: string;
  readonly template: string;
  readonly operationId: string;
  /** Path parameters (percent-decoded strings) when `path` matches the template, else undefined. */
  match(path: string): Record<string, string> | undefined;
  /**
   * Validates and coerces path, query and header parameters (integers are decimal strings on the
   * wire; header names are looked up in lower case). Returns them by their documented names with
   * defaults applied. Throws InputError naming the parameter.
   */
  parameters(
    path: Record<string, string>,
    query: Record<string, string | undefined>,
    headers?: Readonly<Record<string, string | undefined>>,
  ): Record<string, unknown>;
  /** Validates a parsed JSON body against the request body schema. Throws InputError naming the field. */
  body(value: unknown): void;
}

/** Rewrites document-local refs (#/components/...) to point into the registered document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? DOC_ID + v : rebase(v);
  return out;
}

/** Follows local $refs to the schema that states the type (for coercing parameter strings). */
function resolve(doc: Json, schema: Json): Json {
  let s = schema;
  for (let i = 0; i < 16 && typeof s.$ref === 'string'; i++) {
    s = s.$ref
      .slice(2)
      .split('/')
      .reduce((node: Json, part: string) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return s;
}

const joinPath = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/** `/a/0/b` -> `a[0].b`, relative to `root` (the name used when the path is empty). */
function fieldOf(instancePath: string, root: string): string {
  if (!instancePath) return root;
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((acc, part) => joinPath(acc, /^\d+$/.test(part) ? Number(part) : part), root === 'body' ? '' : root);
}

/** Picks the most useful ajv error and turns it into an InputError naming the field. */
export function toInputError(errors: readonly ErrorObject[], root: string): InputError {
  const rank = (e: ErrorObject) => (e.keyword === 'additionalProperties' ? 0 : e.keyword === 'required' ? 2 : 1);
  const e = [...errors].sort((a, b) => rank(a) - rank(b))[0]!;
  const at = fieldOf(e.instancePath, root);
  if (e.keyword === 'additionalProperties')
    return new InputError(joinPath(at === 'body' ? '' : at, e.params.additionalProperty), 'unknown field');
  if (e.keyword === 'required') return new InputError(joinPath(at === 'body' ? '' : at, e.params.missingProperty), 'missing');
  const description = (e.parentSchema as Json | undefined)?.description;
  if (e.keyword === 'pattern' && typeof description === 'string') return new InputError(at, `expected ${description}`);
  return new InputError(at, e.message ?? 'invalid');
}

/** Strict decimal -> number for integer parameters; anything else stays a string so the schema refuses it. */
function coerce(doc: Json, schema: Json, raw: string): unknown {
  const type = resolve(doc, schema).type;
  if (type === 'integer' && /^(0|[1-9][0-9]{0,15})$/.test(raw)) return Number(raw);
  return raw;
}

/**
 * Compiles every operation of `doc` (default: the served document). Throws if a schema does not
 * compile under ajv's strict mode, which is how the tests check the document itself.
 */
export function compileOperations(doc: Json = openapiDocument): { operations: Operation[]; ajv: Ajv2020 } {
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true });
  ajv.addVocabulary(OPENAPI_KEYS);
  ajv.addSchema(doc, DOC_ID);
  // Compile every component, referenced or not, so a typo anywhere in the document fails here.
  for (const name of Object.keys(doc.components?.schemas ?? {})) ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`);
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths)) {
    const names: string[] = [];
    const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const regex = new RegExp(`^${source}$`);
    for (const [method, op] of Object.entries<Json>(item)) {
      const params: Json[] = op.parameters ?? [];
      const paramSchema = {
        type: 'object',
        properties: Object.fromEntries(params.map((p) => [p.name, rebase(p.schema)])),
        required: params.filter((p) => p.required).map((p) => p.name),
      };
      const checkParams = ajv.compile(paramSchema);
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const checkBody: ValidateFunction | undefined = bodySchema ? ajv.compile(rebase(bodySchema) as Json) : undefined;
      operations.push({
        method: method.toUpperCase(),
        template,
        operationId: op.operationId,
        match(path) {
          const m = regex.exec(path);
          if (!m) return undefined;
          try {
            return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
          } catch {
            return Object.fromEntries(names.map((n, i) => [n, m[i + 1]!])); // malformed %-escape: let the schema refuse it
          }
        },
        parameters(path, query, headers = {}) {
          const values: Json = {};
          for (const p of params) {
            const raw =
              p.in === 'path'
                ? path[p.name]
                : p.in === 'query'
                  ? query[p.name]
                  : p.in === 'header'
                    ? headers[p.name.toLowerCase()]
                    : undefined;
            if (raw !== undefined) values[p.name] = coerce(doc, p.schema, raw);
            else if (p.schema?.default !== undefined) values[p.name] = p.schema.default;
          }
          if (!checkParams(values)) throw toInputError(checkParams.errors ?? [], '');
          return values;
        },
        body(value) {
          if (!checkBody) return;
          if (!checkBody(value)) throw toInputError(checkBody.errors ?? [], 'body');
        },
      });
    }
  }
  return { operations, ajv };
}

/**
 * Validator of one documented response: returns undefined when `body` matches the schema of
 * `operationId` at `status`, else a message naming the first mismatch. Used by the tests to keep
 * the document honest about what the API answers.
 */
export function responseChecker(doc: Json = openapiDocument): (operationId: string, status: number, body: unknown) => string | undefined {
  const { ajv } = compileOperations(doc);
  const cache = new Map<string, ValidateFunction>();
  return (operationId, status, body) => {
    const key = `${operationId} ${status}`;
    let check = cache.get(key);
    if (!check) {
      const op = Object.values<Json>(doc.paths)
        .flatMap((item) => Object.values<Json>(item))
        .find((o) => o.operationId === operationId);
      const schema = op?.responses?.[String(status)]?.content?.['application/json']?.schema;
      if (!schema) return `${operationId} documents no JSON response for status ${status}`;
      check = ajv.compile(rebase(schema) as Json);
      cache.set(key, check);
    }
    if (check(body)) return undefined;
    return check.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  };
}
