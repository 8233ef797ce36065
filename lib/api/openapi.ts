/**
 * The OpenAPI 3.1 document of the HTTP API (DESIGN.md section 4), served at /v1/openapi.json.
 * It is also the request validation: validate.ts compiles the path parameter, query and body
 * schemas below with ajv, so what is documented here is exactly what the API accepts. Response
 * schemas are checked against real answers in the tests.
 *
 * Schemas are JSON Schema 2020-12 (the OpenAPI 3.1 dialect); `description` on a string schema
 * doubles as the 400 message when a value does not match its pattern.
 */

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
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const nullable = (schema: unknown) => ({ oneOf: [schema, { type: 'null' }] });
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
    evidence: { type: ['integer', 'null'], minimum: 0, description: 'number of stored evidence items' },
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
  TransactionAccepted: object({ hash: { ...ref('Hash'), description: 'sha256(tx signing bytes || signature)' } }),
  Error: object({
    error: object({
      code: {
        type: 'string',
        enum: [
          'INVALID_INPUT',
          'INVALID_JSON',
          'BAD_SIGNATURE',
          'STALE_NONCE',
          'NOT_FOUND',
          'METHOD_NOT_ALLOWED',
          'PAYLOAD_TOO_LARGE',
          'UNAVAILABLE',
          'INTERNAL',
        ],
      },
      message: { type: 'string' },
    }),
  }),
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
    '/v1/checkpoints/{height}': getOp(
      'getCheckpoint',
      'Checkpoint at a height that is a multiple of the checkpoint interval',
      json(ref('CheckpointStatus'), 'the checkpoint; finalized ones carry the certificate whose source is this checkpoint'),
      { parameters: [heightParam('a multiple of checkpointInterval')] },
      { '400': error('height is not a non-negative integer'), '404': error('not a checkpoint height, or no block there yet') },
    ),
    '/v1/blocks/{height}': getOp(
      'getBlock',
      'Block on the finalized chain at this height (or the first known one above finality)',
      json(ref('Block'), 'the block with its transactions'),
      { parameters: [heightParam('block height')] },
      { '400': error('height is not a non-negative integer'), '404': error('no block at this height') },
    ),
    '/v1/accounts/{publicKeyHex}': getOp(
      'getAccount',
      'Account at the latest finalized state, with proof and certificate (unknown accounts: balance 0 with an absence proof)',
      json(ref('Account'), 'the account'),
      { parameters: [{ name: 'publicKeyHex', in: 'path', required: true, description: 'ed25519 public key', schema: ref('PublicKey') }] },
      { '400': error('not a 32-byte lowercase hex key') },
    ),
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
        summary: 'Submit a signed transfer; answered after it is durably queued for the sequencer',
        requestBody: { required: true, content: { 'application/json': { schema: ref('Transaction') } } },
        responses: {
          '202': json(ref('TransactionAccepted'), 'queued; resubmitting the same transaction yields the same hash'),
          '400': error('malformed, bad signature for this chain, or stale nonce'),
          '413': error(`body larger than ${MAX_BODY_BYTES} bytes`),
          '500': error('internal error'),
          '503': unavailable('the ingress queue or a table of this region is unavailable; retry after Retry-After seconds'),
        },
      },
    },
  },
  components: { schemas },
} as const;

export type OpenApiDocument = typeof openapiDocument;
