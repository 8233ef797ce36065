import { describe, expect, it } from 'vitest';
import { openapiDocument, openapiDocumentFor } from '../../lib/api/openapi.js';
import { compileOperations, responseChecker } from '../../lib/api/validate.js';
import { APPLICATIONS } from '../../lib/core/apps.js';

type Json = Record<string, any>;
const doc = openapiDocument as unknown as Json;

/** Every $ref string in `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  return out;
}

describe('OpenAPI document', () => {
  it('compiles under ajv strict mode (2020-12): every component schema and every operation', () => {
    const { operations, ajv } = compileOperations();
    expect(operations.map((o) => `${o.method} ${o.template}`).sort()).toEqual([
      'GET /v1/accounts/{publicKeyHex}',
      'GET /v1/blocks/{height}',
      'GET /v1/checkpoints/{height}',
      'GET /v1/checkpoints/{height}/votes',
      'GET /v1/evidence',
      'GET /v1/finality',
      'GET /v1/finality/stream',
      'GET /v1/health',
      'GET /v1/metrics',
      'GET /v1/openapi.json',
      'GET /v1/state/nodes/{hash}',
      'GET /v1/transactions/{hash}',
      'GET /v1/validators',
      'POST /v1/state/nodes',
      'POST /v1/transactions',
    ]);
    for (const name of Object.keys(doc.components.schemas))
      expect(ajv.getSchema(`openapi.json#/components/schemas/${name}`), name).toBeTypeOf('function');
  });

  it('is well-formed OpenAPI 3.1: version, unique operation ids, resolvable refs, declared path parameters', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBeTruthy();
    const ops = Object.values<Json>(doc.paths).flatMap((item) => Object.values<Json>(item));
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of refs(doc)) {
      expect(r).toMatch(/^#\/components\/schemas\/\w+$/);
      expect(doc.components.schemas[r.split('/').pop()!], r).toBeDefined();
    }
    for (const [template, item] of Object.entries<Json>(doc.paths)) {
      const inPath = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values<Json>(item)) {
        const declared = (op.parameters ?? []).filter((p: Json) => p.in === 'path').map((p: Json) => p.name);
        expect(declared, template).toEqual(inPath);
        for (const p of op.parameters ?? []) if (p.in === 'path') expect(p.required).toBe(true);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const status of Object.keys(op.responses)) expect(status).toMatch(/^[1-5]\d\d$/);
      }
    }
  });

  it('documents the finality stream as text/event-stream with its resume parameters and 503 Retry-After', () => {
    const op = doc.paths['/v1/finality/stream'].get;
    expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream']);
    expect(op.parameters.map((p: Json) => `${p.in}:${p.name}`)).toEqual(['query:from', 'header:Last-Event-ID']);
    expect(op.responses['503'].headers['Retry-After']).toBeDefined();
    const { operations } = compileOperations();
    const stream = operations.find((o) => o.operationId === 'getFinalityStream')!;
    expect(stream.parameters({}, { from: '4' }, { 'last-event-id': '6' })).toEqual({ from: 4, 'Last-Event-ID': 6 });
    expect(() => stream.parameters({}, {}, { 'last-event-id': '6x' })).toThrow(/^Last-Event-ID:/);
  });

  it("gives every application's state route the history parameter ?height and its 404", () => {
    for (const app of Object.values(APPLICATIONS)) {
      const doc = openapiDocumentFor(app) as Json;
      const op = doc.paths[app.stateRoute.path].get;
      expect(
        op.parameters.find((p: { name: string }) => p.name === 'height'),
        app.name,
      ).toMatchObject({ in: 'query', required: false });
      expect(op.responses['404'], app.name).toBeDefined();
      const { operations } = compileOperations(doc);
      const route = operations.find((o) => o.operationId === app.stateRoute.operationId)!;
      const path = route.match(app.stateRoute.path.replace(/\{\w+\}/, 'ab'.repeat(app.stateRoute.parameter.minBytes)))!;
      expect(route.parameters(path, { height: '4' })).toMatchObject({ height: 4 });
      expect(() => route.parameters(path, { height: '-1' })).toThrow(/^height/);
    }
  });

  it('survives a JSON round trip (it is served as JSON)', () => {
    expect(JSON.parse(JSON.stringify(openapiDocument))).toEqual(openapiDocument);
  });

  it('response checker reports mismatches (positive and negative)', () => {
    const check = responseChecker();
    expect(check('postTransaction', 202, { hash: 'ab'.repeat(32) })).toBeUndefined();
    expect(check('postTransaction', 202, { hash: 'AB'.repeat(32) })).toMatch(/pattern/);
    expect(check('postTransaction', 202, { hash: 'ab'.repeat(32), extra: 1 })).toMatch(/additional/);
    expect(check('getValidators', 418, {})).toMatch(/documents no JSON response/);
  });

  it('a broken document fails to compile (strict mode catches typos)', () => {
    const broken = JSON.parse(JSON.stringify(openapiDocument));
    broken.components.schemas.Hash.patern = '^x$';
    expect(() => compileOperations(broken)).toThrow(/patern/);
  });
});
