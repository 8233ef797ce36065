/**
 * The OpenAPI 3.1 document of the HTTP API (DESIGN.md section 4), served at /v1/openapi.json.
 * It is also the request validation: validate.ts compiles the path parameter, query and body
 * schemas below with ajv, so what is documented here is exactly what the API accepts. Response
 * schemas are checked against real answers in the tests.
 *
 * Schemas are JSON Schema 2020-12 (the OpenAPI 3.1 dialect); `description` on a string schema
 * doubles as the 400 message when a value does not match its pattern.
 */

import { transferApplication } from '../core/ledger.js';
import type { ApplicationDefinition } from '../core/state-machine.js';
import { MAX_STATE_NODES, MAX_STATE_ROOTS } from '../pipeline/query.js';

/** Largest accepted request body. Transactions are ~330 bytes of JSON; anything near this is abuse. */
export const MAX_BODY_BYTES = 16 * 1024;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const hex = (bytes: number, what: string) => ({
  type: 'string',
  pattern: `^[0-9a-f]{${bytes * 2}}$`,
  description: `${what}: ${bytes} bytes as lowercase hex (${bytes * 2} characters, no 0x prefix)`,
});
const object = (properties: Record<string, unknown>, optional: string[] = []) => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  additionalProperties: false,
});
/** Error codes every chain's API may answer with; an application adds its admission codes. */
const BASE_ERROR_CODES = [
  'INVALID_INPUT',
  'INVALID_JSON',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'UNAVAILABLE',
  'INTERNAL',
];
/**
 * The transaction pool's refusals (lib/api/app.ts maps PoolRefusal to these), the same for every
 * application: OVERLOADED (503, the pool is full), NONCE_TOO_FAR, NONCE_GAP and SENDER_LIMIT (429,
 * retry later), NONCE_TAKEN (409), INSUFFICIENT_BALANCE (400, the budget minus pending spends).
 */
export const POOL_ERROR_CODES = [
  'OVERLOADED',
  'NONCE_TOO_FAR',
  'NONCE_GAP',
  'SENDER_LIMIT',
  'NONCE_TAKEN',
  'INSUFFICIENT_BALANCE',
] as const;
const errorSchema = (admissionCodes: readonly string[]) =>
  object({
    error: object({
      code: { type: 'string', enum: [...new Set([...BASE_ERROR_CODES, ...POOL_ERROR_CODES, ...admissionCodes])] },
      message: { type: 'string' },
    }),
  });
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const nullable = (schema: unknown) => ({ oneOf: [schema, { type: 'null' }] });
const retryAfterHeader = { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } };
/** 503 of every route: a store or queue of the region is unreachable or throttled; the answer carries Retry-After. */
const unavailable = (description = 'a store or queue of this region is unreachable or throttled; retry after Retry-After seconds') => ({
  ...error(description),
  headers: { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } },
});

const schemas = {
  Hash: hex(32, 'hash'),
  PublicKey: hex(32, 'ed25519 public key'),
  Ed25519Signature: hex(64, 'ed25519 signature'),
  BlsSignature: hex(48, 'BLS12-381 G1 signature'),
  BlsPublicKey: hex(96, 'BLS12-381 G2 public key'),
  VoteMessage: hex(195, 'vote signing bytes'),
  U64: {
    type: 'string',
    pattern: '^(0|[1-9][0-9]{0,19})$',
    description: 'unsigned 64-bit integer as a decimal string (no sign, no leading zeros, at most 18446744073709551615)',
  },
  Height: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'block height' },
  BlockRef: object({ height: ref('Height'), hash: ref('Hash') }),
  Checkpoint: object({ height: ref('Height'), hash: ref('Hash'), stateRoot: ref('Hash') }),
  Certificate: {
    ...object({
      era: { type: 'integer', minimum: 0 },
      source: ref('Checkpoint'),
      target: ref('Checkpoint'),
      signers: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1 },
      signature: ref('BlsSignature'),
      message: ref('VoteMessage'),
    }),
    description:
      'Threshold certificate on the link source -> target. `message` is the hex of the 195 vote signing bytes; ' +
      '`signature` is the group signature over it. A link to the next checkpoint finalizes its source.',
  },
  MaybeCertificate: { oneOf: [ref('Certificate'), { type: 'null' }], description: 'null at genesis (final by definition)' },
  Validators: object({
    chainId: ref('Hash'),
    era: { type: 'integer', minimum: 0 },
    n: { type: 'integer', minimum: 1 },
    threshold: { type: 'integer', minimum: 1 },
    checkpointInterval: { type: 'integer', minimum: 1 },
    groupPublicKey: ref('BlsPublicKey'),
    members: {
      type: 'array',
      items: object({ index: { type: 'integer', minimum: 1 }, region: { type: 'string' }, publicKey: ref('BlsPublicKey') }),
    },
  }),
  Finality: object({
    region: { type: 'string' },
    head: ref('BlockRef'),
    justified: ref('BlockRef'),
    finalized: ref('Checkpoint'),
    applied: object({ height: ref('Height'), stateRoot: ref('Hash') }),
    certificate: ref('MaybeCertificate'),
  }),
  CheckpointStatus: object(
    {
      height: ref('Height'),
      hash: ref('Hash'),
      stateRoot: ref('Hash'),
      status: { type: 'string', enum: ['pending', 'justified', 'finalized'] },
      certificate: ref('Certificate'),
    },
    ['certificate'],
  ),
  Transaction: object({
    from: ref('PublicKey'),
    to: ref('PublicKey'),
    amount: ref('U64'),
    nonce: ref('U64'),
    signature: ref('Ed25519Signature'),
  }),
  Block: object({
    hash: ref('Hash'),
    height: ref('Height'),
    parentHash: ref('Hash'),
    transactions: { type: 'array', items: ref('Transaction') },
    finalized: { type: 'boolean', description: 'true when the block is at or below the finalized checkpoint' },
  }),
  Proof: {
    ...object(
      {
        key: ref('Hash'),
        leaf: object({ key: ref('Hash'), valueHash: ref('Hash') }),
        siblings: { type: 'array', items: ref('Hash'), maxItems: 256 },
      },
      ['leaf'],
    ),
    description:
      'Sparse Merkle proof for key = sha256(account). Leaf hash sha256(0x00 || key || sha256(value)), internal hash ' +
      'sha256(0x01 || left || right), empty subtree = 32 zero bytes; siblings run top-down; value = balance(u64) || nonce(u64).',
  },
  Account: object({
    account: ref('PublicKey'),
    balance: ref('U64'),
    nonce: ref('U64'),
    height: ref('Height'),
    stateRoot: ref('Hash'),
    proof: ref('Proof'),
    certificate: ref('MaybeCertificate'),
  }),
  Vote: object({
    era: { type: 'integer', minimum: 0 },
    source: ref('Checkpoint'),
    target: ref('Checkpoint'),
    member: { type: 'integer', minimum: 1 },
    signature: ref('BlsSignature'),
  }),
  CheckpointVotes: {
    ...object({
      height: ref('Height'),
      votes: {
        type: 'array',
        items: ref('Vote'),
        description: "each member's slot at this height: its first verified vote with this target height (at most one per member)",
      },
      spans: {
        type: 'array',
        items: ref('Vote'),
        description: 'non-adjacent votes whose link strictly spans this height (at most one per member), kept for surround evidence',
      },
    }),
    description:
      "The votes this region's finalizer recorded at a checkpoint height, each with its member's partial signature. Peer regions " +
      'compare them with their own (the cross-region evidence audit); anyone can verify each vote with the member public key.',
  },
  Evidence: object({
    count: { type: 'integer', minimum: 0 },
    evidence: {
      type: 'array',
      items: object({
        kind: { type: 'string', enum: ['double', 'surround'] },
        member: { type: 'integer', minimum: 1 },
        first: ref('Vote'),
        second: ref('Vote'),
      }),
    },
  }),
  Health: object({
    status: {
      type: 'string',
      enum: ['ok', 'degraded', 'down'],
      description:
        'ok: every check passes (200). degraded: the tables answer but a queue check fails or finality lags beyond the bound; ' +
        'down: a table of the region cannot be read (heights, lag and evidence are then null). Both answer 503.',
    },
    region: { type: 'string' },
    head: nullable(ref('Height')),
    justified: nullable(ref('Height')),
    finalized: nullable(ref('Height')),
    applied: nullable(ref('Height')),
    lag: object({
      blocks: { type: ['integer', 'null'], description: 'head height minus finalized height' },
      appliedBehindFinalized: { type: ['integer', 'null'], description: 'finalized height minus applied height' },
      seconds: {
        type: ['number', 'null'],
        minimum: 0,
        description:
          'informational: seconds (local clock of this API instance) since it first saw the current finalized height; ' +
          'null when the instance keeps no clock. No protocol rule reads a clock.',
      },
    }),
    validators: {
      type: 'array',
      items: object({ index: { type: 'integer', minimum: 1 }, region: { type: 'string' }, lastVoteHeight: { type: ['integer', 'null'] } }),
    },
    evidence: {
      type: ['integer', 'null'],
      minimum: 0,
      description: 'number of stored evidence items (null when the tables cannot be read)',
    },
    invalidVotes: {
      type: ['integer', 'null'],
      minimum: 0,
      description:
        'votes dropped because their partial signature did not verify (never stored or counted; null when the tables cannot be read)',
    },
    dlq: {
      type: ['object', 'null'],
      additionalProperties: { type: 'integer', minimum: 0 },
      description: "messages waiting in each of this region's dead-letter queues, by queue name; null when not known",
    },
    dependencies: {
      type: ['array', 'null'],
      description: "the checks of the region's tables and queues (null when this deployment does not check them)",
      items: object(
        {
          name: { type: 'string', description: '<service>:<region>/<resource>, e.g. dynamodb:us-east-1/afg-finality' },
          kind: { type: 'string', enum: ['table', 'queue'] },
          region: { type: 'string' },
          ok: { type: 'boolean' },
          error: { type: 'string', description: 'why the check failed, led by unreachable, timeout, throttled or service-error' },
        },
        ['error'],
      ),
    },
    failing: {
      type: 'array',
      items: { type: 'string' },
      description: 'names of the failed checks: dependency names, and finality-lag when the head is too far ahead of finality',
    },
  }),
  Metrics: object({
    region: { type: 'string' },
    scope: { type: 'string', enum: ['process'], description: 'counters of this process only (on AWS: one container)' },
    totals: { type: 'object', additionalProperties: { type: 'number' }, description: 'sum of every value reported, by metric name' },
    last: { type: 'object', additionalProperties: { type: 'number' }, description: 'most recent value, by metric name (gauges)' },
  }),
  StateNodesRequest: object(
    {
      roots: {
        type: 'array',
        items: ref('Hash'),
        minItems: 1,
        maxItems: MAX_STATE_ROOTS,
        description: 'subtree roots, in the order wanted',
      },
      limit: { type: 'integer', minimum: 1, maximum: MAX_STATE_NODES, description: 'at most this many nodes (default and most: 4096)' },
    },
    ['limit'],
  ),
  StateNodes: {
    ...object({
      nodes: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^([0-9a-f]{2})+$', description: 'stored node bytes as lowercase hex' },
      },
    }),
    description:
      'For each requested root in order, the node stored under it then its descendants breadth-first (each level left to ' +
      'right, empty subtrees skipped), one subtree after the other: a prefix of that order, cut at `limit` nodes, about 1 MiB ' +
      'of node bytes, or before a node this region lacks. Internal node: 0x01 || left(32) || right(32), hashed sha256(bytes); leaf: 0x00 || key(32) || value, ' +
      'hashed sha256(0x00 || key || sha256(value)). A client checks every node against the hash its parent names.',
  },
  TransactionAccepted: object({ hash: { ...ref('Hash'), description: 'sha256(tx signing bytes || signature)' } }),
  TransactionStatus: {
    ...object(
      {
        hash: ref('Hash'),
        status: { type: 'string', enum: ['pending', 'included', 'finalized', 'rejected', 'unknown'] },
        height: { ...ref('Height'), description: 'the block that included it (included and finalized)' },
        reason: { type: 'string', description: 'why it was rejected: an execution reason of the application or NONCE_GAP' },
        message: { type: 'string', description: 'the rejection in words' },
      },
      ['height', 'reason', 'message'],
    ),
    description:
      'pending: admitted, in the pool. included: in block `height` of the sequencer chain, not final in this region yet. ' +
      "finalized: `height` is at or below this region's latest finalized checkpoint it serves state for. rejected: evicted " +
      'from the pool (`reason`); it will not be included. unknown: never admitted (refused, or not seen), or no longer ' +
      'remembered.',
  },
  Error: errorSchema(transferApplication.admissionCodes),
};

/** The GET operation of an application's state route (for transfers, the account route). */
function stateRouteOperation(app: ApplicationDefinition) {
  const { operationId, summary, parameter, answerSchema } = app.stateRoute;
  const bytes = parameter.minBytes === parameter.maxBytes ? `${parameter.minBytes}` : `${parameter.minBytes}..${parameter.maxBytes}`;
  const schema =
    parameter.minBytes === 32 && parameter.maxBytes === 32
      ? ref('PublicKey')
      : {
          type: 'string',
          pattern: `^([0-9a-f]{2}){${parameter.minBytes},${parameter.maxBytes}}$`,
          description: `${parameter.description}: ${bytes} bytes as lowercase hex`,
        };
  return getOp(
    operationId,
    summary,
    json(answerSchema, 'the entry, its proof and the certificate of its state'),
    {
      parameters: [
        { name: parameter.name, in: 'path', required: true, description: parameter.description, schema },
        {
          name: 'height',
          in: 'query',
          required: false,
          description:
            'read at this finalized checkpoint instead of the latest one; the answer then carries the certificate that ' +
            'finalized it (source = height, target = height + checkpointInterval). Every finalized state stays readable ' +
            '(state trees are content-addressed and never pruned)',
          schema: ref('Height'),
        },
      ],
    },
    {
      '400': error(`not ${bytes} bytes of lowercase hex, or height is not a non-negative integer`),
      '404': error(
        'height is not a finalized checkpoint in this region: not a multiple of checkpointInterval, above its readable ' +
          'finalized height, or not recorded here (a follower holds history from the snapshot it started from)',
      ),
    },
  );
}

const stateNodesLimit = {
  name: 'limit',
  in: 'query',
  required: false,
  description: 'at most this many nodes',
  schema: { type: 'integer', minimum: 1, maximum: MAX_STATE_NODES, default: MAX_STATE_NODES },
};
const heightParam = (what: string) => ({ name: 'height', in: 'path', required: true, description: what, schema: ref('Height') });
const getOp = (
  operationId: string,
  summary: string,
  ok: unknown,
  extra: Record<string, unknown> = {},
  errors: Record<string, unknown> = {},
) => ({
  get: {
    operationId,
    summary,
    ...extra,
    responses: { '200': ok, '503': unavailable(), ...errors, '500': error('internal error (no details leak)') },
  },
});

/** The OpenAPI 3.1 document. Plain data: safe to JSON.stringify and to hand to ajv. */
export const openapiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'afg query and ingress API',
    version: '1.0.0',
    description:
      'Finalized state of an afg chain. Every account answer carries a Merkle proof and the threshold certificate that ' +
      'finalized its state root, so a client holding only the group public key can verify it. Errors are ' +
      '{ "error": { "code", "message" } }; byte strings are lowercase hex, u64 amounts and nonces are decimal strings.',
  },
  paths: {
    '/v1/validators': getOp(
      'getValidators',
      'Validator set: chain id, group public key, threshold, checkpoint interval',
      json(ref('Validators'), 'the validator set'),
    ),
    '/v1/finality': getOp(
      'getFinality',
      'Head, justified, finalized and applied checkpoints, with the finalizing certificate',
      json(ref('Finality'), 'finality status'),
    ),
    '/v1/finality/stream': getOp(
      'getFinalityStream',
      'Finalized checkpoints as server-sent events, in height order, each exactly once',
      {
        description:
          'A text/event-stream. Each finalized checkpoint above the start is one event, in height order, never skipped or ' +
          'repeated: `id: <height>`, `event: finalized`, `data: <JSON>` where the JSON is what GET /v1/checkpoints/{height} ' +
          'answers for it (schema CheckpointStatus, status "finalized", with the certificate whose source is that checkpoint). ' +
          'The stream opens with a `retry:` field and a comment; comment lines (": keep-alive") keep an idle connection open. ' +
          'Without Last-Event-ID or from, it starts with the current finalized checkpoint. Genesis (height 0) has no ' +
          'certificate and is never an event.',
        content: {
          'text/event-stream': {
            schema: { type: 'string', description: 'SSE events; the data of each is a CheckpointStatus (see the example)' },
            example:
              'retry: 1000\n: finalized checkpoints after height 4\n\nid: 6\nevent: finalized\ndata: {"height":6,"hash":"…",' +
              '"stateRoot":"…","status":"finalized","certificate":{…}}\n\n',
          },
        },
      },
      {
        parameters: [
          {
            name: 'from',
            in: 'query',
            required: false,
            description: 'resume after this height: the first event is the first checkpoint above it (missed events are replayed)',
            schema: ref('Height'),
          },
          {
            name: 'Last-Event-ID',
            in: 'header',
            required: false,
            description: 'the id (height) of the last event received; takes precedence over from (EventSource sends it when it reconnects)',
            schema: ref('Height'),
          },
        ],
      },
      {
        '307': {
          description:
            'this endpoint buffers responses (API Gateway): the stream is served at the Location URL (the region stream function)',
          headers: { Location: { schema: { type: 'string' } } },
        },
        '400': error('from or Last-Event-ID is not a non-negative integer'),
        '404': error(
          'this region does not hold the checkpoint after the resume point: its history starts later (it bootstrapped from a ' +
            'snapshot); resume from a later height or follow another region',
        ),
        '503': {
          ...error('as many streams are open in this region as it serves; retry after Retry-After seconds'),
          headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
        },
      },
    ),
    '/v1/checkpoints/{height}': getOp(
      'getCheckpoint',
      'Checkpoint at a height that is a multiple of the checkpoint interval',
      json(ref('CheckpointStatus'), 'the checkpoint; finalized ones carry the certificate whose source is this checkpoint'),
      { parameters: [heightParam('a multiple of checkpointInterval')] },
      { '400': error('height is not a non-negative integer'), '404': error('not a checkpoint height, or no block there yet') },
    ),
    '/v1/checkpoints/{height}/votes': getOp(
      'getCheckpointVotes',
      'The votes recorded at a checkpoint height (member slots and span notes), for cross-region evidence audits',
      json(ref('CheckpointVotes'), 'the votes; empty lists when none are recorded at this height'),
      { parameters: [heightParam('a multiple of checkpointInterval')] },
      { '400': error('height is not a non-negative integer'), '404': error('not a checkpoint height') },
    ),
    '/v1/blocks/{height}': getOp(
      'getBlock',
      'Block on the finalized chain at this height (or the first known one above finality)',
      json(ref('Block'), 'the block with its transactions'),
      { parameters: [heightParam('block height')] },
      { '400': error('height is not a non-negative integer'), '404': error('no block at this height') },
    ),
    [transferApplication.stateRoute.path]: stateRouteOperation(transferApplication),
    '/v1/state/nodes/{hash}': getOp(
      'getStateNodes',
      'State tree nodes by hash: the node and its descendants breadth-first (snapshot bootstrap)',
      json(ref('StateNodes'), 'a breadth-first prefix of the subtree under hash'),
      {
        parameters: [
          {
            name: 'hash',
            in: 'path',
            required: true,
            description: 'hash of a state tree node (e.g. a finalized stateRoot)',
            schema: ref('Hash'),
          },
          stateNodesLimit,
        ],
      },
      { '400': error('hash is not 32 bytes of lowercase hex, or a bad limit'), '404': error('no node under this hash in this region') },
    ),
    '/v1/state/nodes': {
      post: {
        operationId: 'postStateNodes',
        summary:
          'State tree nodes under several subtree roots at once: each subtree breadth-first, one after the other (snapshot bootstrap)',
        description:
          'A read: nothing is written. POST only because the roots do not fit a URL. The answer is the subtrees of `roots` in ' +
          'order, each breadth-first, cut as described in StateNodes.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('StateNodesRequest') } } },
        responses: {
          '200': json(ref('StateNodes'), 'a prefix of the subtrees under roots, in order'),
          '400': error('malformed body: roots not 1..200 hashes, or a bad limit'),
          '404': error('no node under the first root in this region'),
          '413': error(`body larger than ${MAX_BODY_BYTES} bytes`),
          '500': error('internal error (no details leak)'),
        },
      },
    },
    '/v1/evidence': getOp(
      'getEvidence',
      'Stored equivocation evidence (double and surround votes)',
      json(ref('Evidence'), 'evidence'),
      {
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: false,
            description: 'at most this many items',
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        ],
      },
      { '400': error('bad limit') },
    ),
    '/v1/health': getOp(
      'getHealth',
      "Whether this region can make progress (its tables, its queues, finality lag), with heights, lag and each validator's last vote",
      json(ref('Health'), 'status ok: tables and queues reachable, finality within the lag bound'),
      {},
      {
        '503': {
          ...json(
            { oneOf: [ref('Health'), ref('Error')] },
            'status degraded or down, `failing` naming the failed checks; an UNAVAILABLE error instead in the rare case ' +
              'where reading the status failed although every dependency check passed',
          ),
          headers: unavailable().headers,
        },
      },
    ),
    '/v1/metrics': getOp(
      'getMetrics',
      "Counters of this process's roles (local cluster: the region's handlers); informational, not for alerting",
      json(ref('Metrics'), 'counters since the process started'),
      {},
      { '404': error('this process collects no counters (on AWS read the afg namespace in CloudWatch)') },
    ),
    '/v1/openapi.json': getOp('getOpenApi', 'This document', json({ type: 'object' }, 'OpenAPI 3.1 document')),
    '/v1/transactions': {
      post: {
        operationId: 'postTransaction',
        summary: 'Submit a signed transaction; answered 202 once it is admitted into the pool (durable), or refused at once',
        description:
          "Admission: the signature; the nonce not used and below the sender's next nonce + W (the nonce window); no gap " +
          '(nonce - 1 pending or just included); at most the per-sender cap pending; the amount covered by the balance minus ' +
          "the sender's pending spends; room in the pool. A full pool answers 503 OVERLOADED with Retry-After: the excess " +
          'is refused, never queued. Nothing is half-accepted: a refused transaction was not stored.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('Transaction') } } },
        responses: {
          '202': json(ref('TransactionAccepted'), 'admitted (or already pending or included); resubmitting yields the same hash'),
          '400': error('malformed, bad signature for this chain, stale nonce, or INSUFFICIENT_BALANCE (balance minus pending spends)'),
          '409': error('NONCE_TAKEN: another transaction of this sender holds this nonce in the pool'),
          '413': error(`body larger than ${MAX_BODY_BYTES} bytes`),
          '429': {
            ...error('NONCE_TOO_FAR, NONCE_GAP or SENDER_LIMIT: the sender is ahead of what the pool takes now; retry after Retry-After'),
            headers: retryAfterHeader,
          },
          '500': error('internal error'),
          '503': {
            ...error(
              'OVERLOADED: the pool is full, or this API runs as many admissions as it runs at once (retry after Retry-After seconds); UNAVAILABLE: a table or queue of this region is ' +
                'unavailable',
            ),
            headers: retryAfterHeader,
          },
        },
      },
    },
    '/v1/transactions/{hash}': getOp(
      'getTransaction',
      'What became of a transaction: pending, included, finalized (in this region), rejected (with why) or unknown',
      json(ref('TransactionStatus'), "its status (O(1) reads: the pool status and this region's finality)"),
      {
        parameters: [
          { name: 'hash', in: 'path', required: true, description: 'the hash POST /v1/transactions answered', schema: ref('Hash') },
        ],
      },
      { '400': error('hash is not 32 bytes of lowercase hex') },
    ),
  },
  components: { schemas },
} as const;

export type OpenApiDocument = typeof openapiDocument;

/**
 * The document of a chain running `app`: its transaction schema for POST /v1/transactions and its
 * state route in place of the transfer ones. For the transfer application it is `openapiDocument`.
 */
export function openapiDocumentFor(app: ApplicationDefinition): Record<string, unknown> {
  if (app.name === transferApplication.name) return openapiDocument;
  const paths: Record<string, unknown> = { ...openapiDocument.paths };
  delete paths[transferApplication.stateRoute.path];
  paths[app.stateRoute.path] = stateRouteOperation(app);
  const appSchemas = { ...schemas, Transaction: app.transactionSchema, Error: errorSchema(app.admissionCodes) };
  return { ...openapiDocument, paths, components: { schemas: appSchemas } };
}
