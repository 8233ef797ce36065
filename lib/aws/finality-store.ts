/**
 * FinalityStore (per-height tallies, certificates, justification and finality, evidence, head) and
 * SlashingProtectionStore over one region's finality table (pk S + sk S). Every write is one
 * conditional or idempotent request, and every message costs a bounded number of them.
 *
 * Item layout (checkpoints are maps {height N, hash S, stateRoot S}; links add era S (u64 decimal);
 * certificates add signers (L of N) and signature S; votes add member N and signature S; hex is lowercase):
 *   pk `WATERMARK#<member>`        sk `-`   sourceHeight N, targetHeight N, id S (linkId), link M, signature S
 *   pk `T#<padHeight>`             sk `-`   the tally of target height h:
 *       m<member> S   the member's first verified vote with target h (its JSON; one slot per member)
 *       x<member> S   a non-adjacent vote of the member whose span covers h (surround detection)
 *       cert M, cid S (linkId), cw S   the certificate of the link certified at h
 *       j BOOL, jw S  the certificate's target is justified
 *       w<id> M       a certified link whose source is at h, stored while that checkpoint was not justified
 *   (The checkpoint at h is finalized by the certificate at h + K when it is adjacent, from it, and justified.)
 *   pk `E`                         sk `<member>#<slot>`   evidence M, eid S (at most EVIDENCE_SLOTS per member)
 *   pk `STATS`                     sk `-`   invalid N: votes dropped for a bad signature
 *   pk `V#<padView>`               sk `-`   the view changes to view v: m<member> S (its JSON), cert S (the view certificate's JSON)
 *   pk `HEAD`                      sk `-`   justified M, jh N, justification M, finalized M, fh N, finalization M,
 *                                            vh N, viewCert S (the highest view certified here and its certificate's JSON)
 * The `*w` attributes are write tokens: a retried request whose first attempt landed still counts as ours.
 *
 * Genesis is justified and finalized by definition and never written: tally(0) and head() supply it.
 * Reads the finalizer's cascade depends on (a source's justification, the next height's certificate)
 * are strongly consistent: it writes first, then reads (see lib/pipeline/finalizer.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, fromHex, parseU64Decimal, toHex } from '../core/bytes.js';
import { evidenceId, evidenceSlot, linkId, padHeight } from '../core/ids.js';
import { mergeWatermarks } from '../core/interchange.js';
import type { Evidence, Watermark } from '../core/slashing.js';
import type { Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import type { ViewCertificate, ViewChange } from '../core/views.js';
import {
  aobject,
  type CheckpointJson,
  checkpointFromJson,
  checkpointToJson,
  viewCertificateFromJson,
  viewCertificateToJson,
  viewChangeFromJson,
  viewChangeToJson,
  voteFromJson,
  voteToJson,
} from '../core/wire.js';
import type {
  FinalityHead,
  FinalityStore,
  HeightTally,
  RecordOutcome,
  SignOutcome,
  SlashingProtectionStore,
  ViewTally,
  WatermarkStore,
} from '../pipeline/ports.js';
import { slotRefusal } from '../pipeline/tally.js';
import { backoffMs, conditional, StoreError, writeToken } from './errors.js';
import { queryAll } from './tables.js';

// ---------------------------------------------------------------- item codecs

interface LinkItem {
  era: string;
  source: CheckpointJson;
  target: CheckpointJson;
}
interface VoteItem extends LinkItem {
  member: number;
  signature: string;
}
interface CertificateItem extends LinkItem {
  signers: number[];
  signature: string;
}

const linkItem = (l: Link): LinkItem => ({ era: l.era.toString(), source: checkpointToJson(l.source), target: checkpointToJson(l.target) });
const voteItem = (v: Vote): VoteItem => ({ ...linkItem(v), member: v.member, signature: toHex(v.signature) });
const certificateItem = (c: Certificate): CertificateItem => ({ ...linkItem(c), signers: [...c.signers], signature: toHex(c.signature) });

function linkFrom(value: unknown, path: string): Link {
  const o = aobject(value, path, ['era', 'source', 'target'], ['member', 'signature', 'signers']);
  return {
    era: parseU64Decimal(o.era, `${path}.era`),
    source: checkpointFromJson(o.source, `${path}.source`),
    target: checkpointFromJson(o.target, `${path}.target`),
  };
}
function voteFrom(value: unknown, path: string): Vote {
  const o = value as VoteItem;
  return { ...linkFrom(value, path), member: o.member, signature: fromHex(o.signature, 48, `${path}.signature`) };
}
function certificateFrom(value: unknown, path: string): Certificate {
  const o = value as CertificateItem;
  return { ...linkFrom(value, path), signers: [...o.signers].map(Number), signature: fromHex(o.signature, 48, `${path}.signature`) };
}

// ---------------------------------------------------------------- slashing protection

/**
 * Each member's watermark: the last link it signed. One conditional write per signature. An import
 * (mergeWatermark) raises sourceHeight/targetHeight only, so the item may hold heights above its link,
 * or heights and no link at all.
 */
export class DynamoSlashingProtectionStore implements SlashingProtectionStore, WatermarkStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private async item(member: number): Promise<Record<string, unknown> | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: watermarkKey(member), ConsistentRead: true }));
    return out.Item;
  }

  async lastSigned(member: number): Promise<{ link: Link; signature: Uint8Array } | undefined> {
    const i = await this.item(member);
    return i?.link === undefined ? undefined : { link: linkFrom(i.link, 'link'), signature: fromHex(i.signature, 48, 'signature') };
  }

  async recordSignature(member: number, link: Link, signature: Uint8Array): Promise<SignOutcome> {
    const id = linkId(link);
    // Timeline guarded: two invocations of one validator (a redelivered proposal, a concurrent one) hold
    // conflicting links at one height; only the first write may release a signature. A later link must move
    // the target strictly up and never move the source down, which excludes double and surround votes.
    // Our own landed write (a retried request) fails the condition with an identical link: 'identical'.
    const result = await conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...watermarkKey(member),
            sourceHeight: link.source.height,
            targetHeight: link.target.height,
            id,
            link: linkItem(link),
            signature: toHex(signature),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR (targetHeight < :t AND sourceHeight <= :s)',
          ExpressionAttributeValues: { ':t': link.target.height, ':s': link.source.height },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (result.ok) return { kind: 'signed', signature };
    const old = result.old;
    if (old === undefined)
      throw new StoreError('CORRUPT_ITEM', `watermark of member ${member} failed its condition but is absent`, { table: this.table });
    if (old.id === id) return { kind: 'identical', signature: fromHex(old.signature, 48, 'signature') };
    return {
      kind: 'refused',
      watermark: this.watermarkFrom(old, member),
      ...(old.link === undefined ? {} : { last: linkFrom(old.link, 'link') }),
    };
  }

  async watermark(member: number): Promise<Watermark | undefined> {
    const i = await this.item(member);
    return i === undefined ? undefined : this.watermarkFrom(i, member);
  }

  async mergeWatermark(member: number, floor: Watermark): Promise<Watermark> {
    // Compare-and-raise without a read: write the merged heights iff the stored ones are still at or
    // below them. Heights only grow, so an item that rose past them in between (a signature, another
    // merge) fails the condition and hands back its heights, and we merge again from those. Each retry
    // means the item rose, so the loop ends; link, id and signature are left as they are.
    let target = floor;
    for (let attempt = 1; attempt <= MERGE_ATTEMPTS; attempt++) {
      const result = await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: watermarkKey(member),
            UpdateExpression: 'SET sourceHeight = :s, targetHeight = :t',
            ConditionExpression: 'attribute_not_exists(pk) OR (sourceHeight <= :s AND targetHeight <= :t)',
            ExpressionAttributeValues: { ':s': target.lastSourceHeight, ':t': target.lastTargetHeight },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      if (result.ok) return target;
      if (result.old === undefined)
        throw new StoreError('CORRUPT_ITEM', `watermark of member ${member} failed its condition but is absent`, { table: this.table });
      const stored = this.watermarkFrom(result.old, member);
      target = mergeWatermarks(stored, floor);
      // Already at or above the floor: heights never fall, so there is nothing to write.
      if (target.lastSourceHeight === stored.lastSourceHeight && target.lastTargetHeight === stored.lastTargetHeight) return stored;
    }
    throw new StoreError('CONTENDED', `watermark of member ${member} kept moving during ${MERGE_ATTEMPTS} merge attempts`, {
      table: this.table,
    });
  }

  private watermarkFrom(item: Record<string, unknown>, member: number): Watermark {
    const { sourceHeight, targetHeight } = item;
    if (!Number.isSafeInteger(sourceHeight) || !Number.isSafeInteger(targetHeight))
      throw new StoreError('CORRUPT_ITEM', `watermark of member ${member} has no numeric sourceHeight/targetHeight`, { table: this.table });
    return { lastSourceHeight: sourceHeight as number, lastTargetHeight: targetHeight as number };
  }
}

const watermarkKey = (member: number) => ({ pk: `WATERMARK#${member}`, sk: '-' });
/** A merge retries only when the item rose meanwhile; this bounds a pathological race. */
const MERGE_ATTEMPTS = 20;

// ---------------------------------------------------------------- finality

const HEAD_KEY = { pk: 'HEAD', sk: '-' };
const STATS_KEY = { pk: 'STATS', sk: '-' };
const tallyKey = (height: number) => ({ pk: `T#${padHeight(height)}`, sk: '-' });
const viewKey = (view: number) => ({ pk: `V#${padHeight(view)}`, sk: '-' });
const SLOT_RE = /^m(\d+)$/;
const SPAN_RE = /^x(\d+)$/;
const WAITING_RE = /^w[0-9a-f]{16}$/;
/** Attribute name of a waiting link: short and fixed-size, named by the link. */
const waitingName = (c: Certificate) => `w${toHex(sha256(ascii(linkId(c)))).slice(0, 16)}`;

/** The stored form of a vote: its wire JSON, as one string (so a condition can compare it whole). */
const voteString = (v: Vote): string => JSON.stringify(voteToJson(v));
const voteOf = (value: unknown, path: string): Vote => voteFromJson(JSON.parse(String(value)), path);

/** One region's finality table. `genesis` is the chain's genesis checkpoint (justified and finalized by definition). */
export class DynamoFinalityStore implements FinalityStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly genesis: Checkpoint,
  ) {}

  // -------------------------------------------------------------- tallies

  private tallyFrom(height: number, item: Record<string, unknown>): HeightTally {
    const votes = new Map<number, Vote>();
    const spans: Vote[] = [];
    const waiting: Certificate[] = [];
    for (const [name, value] of Object.entries(item)) {
      const slot = SLOT_RE.exec(name);
      if (slot) votes.set(Number(slot[1]), voteOf(value, name));
      else if (SPAN_RE.test(name)) spans.push(voteOf(value, name));
      else if (WAITING_RE.test(name)) waiting.push(certificateFrom(value, name));
    }
    return {
      height,
      votes,
      ...(item.cert ? { certificate: certificateFrom(item.cert, 'cert') } : {}),
      justified: item.j === true || height === this.genesis.height,
      waiting,
      spans,
    };
  }

  async recordVote(vote: Vote): Promise<RecordOutcome> {
    const h = vote.target.height;
    const value = voteString(vote);
    // Timeline guarded: a member's first verified vote at a target height takes its slot; a redelivery of
    // the same vote finds itself (idempotent); a different vote at the same height never replaces it, nor
    // does a vote that the member's span note here surrounds (its source above the note's: tally.ts slotRefusal).
    let item: Record<string, unknown> | undefined;
    const result = await conditional(async () => {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: tallyKey(h),
          UpdateExpression: 'SET #m = :v',
          ConditionExpression: '#m = :v OR (attribute_not_exists(#m) AND (attribute_not_exists(#y) OR #y >= :s))',
          ExpressionAttributeNames: { '#m': `m${vote.member}`, '#y': `y${vote.member}` },
          ExpressionAttributeValues: { ':v': value, ':s': vote.source.height },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      item = out.Attributes;
    });
    if (!result.ok) {
      const refusal = slotRefusal(this.tallyFrom(h, result.old ?? {}), vote);
      if (!refusal)
        throw new StoreError(
          'CORRUPT_ITEM',
          `tally ${h}: the slot write of member ${vote.member} failed its condition, yet the item allows it`,
          {
            table: this.table,
          },
        );
      return refusal;
    }
    // ALL_OLD tells whether the slot was free; the tally after the write is the old item plus this vote.
    const before = item ?? {};
    const fresh = before[`m${vote.member}`] === undefined;
    return { kind: 'recorded', fresh, tally: this.tallyFrom(h, { ...before, [`m${vote.member}`]: value }) };
  }

  async recordSpan(vote: Vote, heights: readonly number[]): Promise<HeightTally[]> {
    const value = voteString(vote);
    return Promise.all(
      heights.map(async (h) => {
        // The first spanning vote of a member is kept per height: one is enough to prove a surround. Its
        // source height is kept beside it (y<m>), for recordVote's condition.
        const out = await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: tallyKey(h),
            UpdateExpression: 'SET #x = if_not_exists(#x, :v), #y = if_not_exists(#y, :s)',
            ExpressionAttributeNames: { '#x': `x${vote.member}`, '#y': `y${vote.member}` },
            ExpressionAttributeValues: { ':v': value, ':s': vote.source.height },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return this.tallyFrom(h, out.Attributes ?? {});
      }),
    );
  }

  async tally(height: number): Promise<HeightTally | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: tallyKey(height), ConsistentRead: true }));
    if (height === this.genesis.height) return this.tallyFrom(height, out.Item ?? {});
    return out.Item ? this.tallyFrom(height, out.Item) : undefined;
  }

  async tallies(heights: readonly number[]): Promise<HeightTally[]> {
    const keys = [...new Set(heights)];
    const out: HeightTally[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + 100).map(tallyKey);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        const res = await this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }));
        for (const item of res.Responses?.[this.table] ?? []) out.push(this.tallyFrom(heightOfKey(item.pk), item));
        if (keys.includes(this.genesis.height) && !out.some((t) => t.height === this.genesis.height))
          out.push(this.tallyFrom(this.genesis.height, {}));
        pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
        if (attempt >= 8 && pending.length > 0)
          throw new StoreError('UNPROCESSED_ITEMS', `${pending.length} tally reads left unprocessed`, {
            table: this.table,
            unprocessed: pending.length,
          });
      }
    }
    return out.sort((a, b) => a.height - b.height);
  }

  async certify(c: Certificate, justified: boolean) {
    const w = writeToken();
    const id = linkId(c);
    // Timeline guarded: concurrent invocations combine different t-subsets into different (equally valid)
    // certificates; the first stored is the height's certificate for everyone. A retry of ours finds itself.
    let item: Record<string, unknown> | undefined;
    const result = await conditional(async () => {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: tallyKey(c.target.height),
          UpdateExpression: `SET cert = :c, cid = :id, cw = :w${justified ? ', j = :t, jw = :w' : ''}`,
          ConditionExpression: 'attribute_not_exists(cert)',
          ExpressionAttributeValues: { ':c': certificateItem(c), ':id': id, ':w': w, ...(justified ? { ':t': true } : {}) },
          ReturnValues: justified ? 'ALL_NEW' : 'NONE',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      item = out.Attributes;
    });
    if (result.ok)
      return { certificate: c, created: true, justifiedNow: justified, ...(item ? { tally: this.tallyFrom(c.target.height, item) } : {}) };
    const old = result.old ?? {};
    if (old.cert === undefined)
      throw new StoreError('CORRUPT_ITEM', `tally ${c.target.height} failed its condition without a certificate`, { table: this.table });
    const mine = old.cw === w;
    const justifiedNow = mine && justified && old.jw === w;
    return {
      certificate: certificateFrom(old.cert, 'cert'),
      created: mine,
      justifiedNow,
      ...(justifiedNow ? { tally: this.tallyFrom(c.target.height, old) } : {}),
    };
  }

  async markJustified(c: Certificate): Promise<HeightTally | undefined> {
    const w = writeToken();
    // Guards: only the certificate stored at the height is justified, once; our own landed retry counts as ours.
    let item: Record<string, unknown> | undefined;
    const result = await conditional(async () => {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: tallyKey(c.target.height),
          UpdateExpression: 'SET j = :t, jw = :w',
          ConditionExpression: 'cid = :id AND attribute_not_exists(j)',
          ExpressionAttributeValues: { ':t': true, ':w': w, ':id': linkId(c) },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      item = out.Attributes;
    });
    if (result.ok) return this.tallyFrom(c.target.height, item ?? {});
    return result.old?.jw === w ? this.tallyFrom(c.target.height, result.old) : undefined;
  }

  async awaitSource(c: Certificate): Promise<HeightTally> {
    // One atomic step with the source's status: either the returned tally shows it justified, or the
    // call that justifies it later gets this link back from its own write (markJustified, ALL_NEW).
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: tallyKey(c.source.height),
        UpdateExpression: 'SET #w = :c',
        ExpressionAttributeNames: { '#w': waitingName(c) },
        ExpressionAttributeValues: { ':c': certificateItem(c) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return this.tallyFrom(c.source.height, out.Attributes ?? {});
  }

  // -------------------------------------------------------------- evidence and counters

  async putEvidence(e: Evidence): Promise<void> {
    // A fixed slot per member bounds the items a member's equivocations can create; a rewrite of the same pair is idempotent.
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: 'E',
          sk: `${e.member}#${evidenceSlot(e)}`,
          eid: evidenceId(e),
          evidence: { kind: e.kind, member: e.member, first: voteItem(e.first), second: voteItem(e.second) },
        },
      }),
    );
  }

  async listEvidence(limit: number): Promise<Evidence[]> {
    if (limit <= 0) return [];
    const items = await queryAll(
      this.db,
      { TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'E' }, Limit: limit },
      limit,
    );
    return items.map((i) => {
      const e = i.evidence as { kind: Evidence['kind']; member: number; first: unknown; second: unknown };
      return { kind: e.kind, member: e.member, first: voteFrom(e.first, 'evidence.first'), second: voteFrom(e.second, 'evidence.second') };
    });
  }

  async countInvalidVote(): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: STATS_KEY,
        UpdateExpression: 'ADD invalid :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async invalidVotes(): Promise<number> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: STATS_KEY }));
    return Number(out.Item?.invalid ?? 0);
  }

  // -------------------------------------------------------------- head

  async head(): Promise<FinalityHead> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: HEAD_KEY, ConsistentRead: true }));
    const i = out.Item ?? {};
    return {
      justified: i.justified ? checkpointFromJson(i.justified, 'justified') : this.genesis,
      ...(i.justification ? { justification: certificateFrom(i.justification, 'justification') } : {}),
      finalized: i.finalized ? checkpointFromJson(i.finalized, 'finalized') : this.genesis,
      ...(i.finalization ? { finalization: certificateFrom(i.finalization, 'finalization') } : {}),
      view: typeof i.vh === 'number' ? i.vh : 0,
      ...(typeof i.viewCert === 'string' ? { viewCertificate: viewCertificateFromJson(JSON.parse(i.viewCert), 'viewCert') } : {}),
    };
  }

  async raiseHead(u: {
    justified?: Checkpoint;
    justification?: Certificate;
    finalized?: Checkpoint;
    finalization?: Certificate;
    view?: ViewCertificate;
  }) {
    const viewSeen = u.view ? await this.raiseView(u.view) : undefined;
    const g = this.genesis.height;
    const justified = u.justified && u.justified.height > g ? u.justified : undefined;
    const finalized = u.finalized && u.finalized.height > g ? u.finalized : undefined;
    if (!justified && !finalized) return viewSeen;
    // Common case, one request: both raised together when both move up.
    if (justified && finalized) {
      const both = await this.raise([
        { field: 'justified', height: 'jh', certField: 'justification', c: justified, cert: u.justification },
        { field: 'finalized', height: 'fh', certField: 'finalization', c: finalized, cert: u.finalization },
      ]);
      if (both.ok) return maxView(viewSeen, both.view);
    }
    // Otherwise each independently: concurrent raises land in any order and the head ends at the highest
    // of each (a lower or equal one fails its condition and is ignored).
    const each = await Promise.all([
      justified
        ? this.raise([{ field: 'justified', height: 'jh', certField: 'justification', c: justified, cert: u.justification }])
        : undefined,
      finalized
        ? this.raise([{ field: 'finalized', height: 'fh', certField: 'finalization', c: finalized, cert: u.finalization }])
        : undefined,
    ]);
    return maxView(viewSeen, ...each.map((r) => r?.view));
  }

  /** Raises the head's view to the certificate's, when higher (a lower or equal one fails its condition and is ignored). */
  private async raiseView(c: ViewCertificate): Promise<number | undefined> {
    const result = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: HEAD_KEY,
          UpdateExpression: 'SET vh = :v, viewCert = :c',
          ConditionExpression: 'attribute_not_exists(vh) OR vh < :v',
          ExpressionAttributeValues: { ':v': c.view, ':c': JSON.stringify(viewCertificateToJson(c)) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return result.ok ? c.view : viewOf(result.old);
  }

  // -------------------------------------------------------------- views

  async recordViewChange(change: ViewChange): Promise<{ fresh: boolean; tally: ViewTally }> {
    // The member's first view change to this view keeps its slot; the old item tells whether it was free,
    // and the tally after the write is the old item plus this change when it was.
    const value = JSON.stringify(viewChangeToJson(change));
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: viewKey(change.view),
        UpdateExpression: 'SET #m = if_not_exists(#m, :c)',
        ExpressionAttributeNames: { '#m': `m${change.member}` },
        ExpressionAttributeValues: { ':c': value },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const before = out.Attributes ?? {};
    const fresh = before[`m${change.member}`] === undefined;
    return { fresh, tally: this.viewTallyFrom(change.view, fresh ? { ...before, [`m${change.member}`]: value } : before) };
  }

  async certifyView(certificate: ViewCertificate): Promise<{ certificate: ViewCertificate; created: boolean }> {
    const value = JSON.stringify(viewCertificateToJson(certificate));
    const result = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: viewKey(certificate.view),
          UpdateExpression: 'SET cert = :c',
          ConditionExpression: 'attribute_not_exists(cert) OR cert = :c',
          ExpressionAttributeValues: { ':c': value },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (result.ok) return { certificate, created: true };
    const old = result.old?.cert;
    if (typeof old !== 'string')
      throw new StoreError('CORRUPT_ITEM', `view ${certificate.view} failed its condition without a certificate`, { table: this.table });
    return { certificate: viewCertificateFromJson(JSON.parse(old), 'cert'), created: false };
  }

  private viewTallyFrom(view: number, item: Record<string, unknown>): ViewTally {
    const changes = new Map<number, ViewChange>();
    for (const [name, value] of Object.entries(item)) {
      const slot = SLOT_RE.exec(name);
      if (slot && typeof value === 'string') changes.set(Number(slot[1]), viewChangeFromJson(JSON.parse(value), name));
    }
    return {
      view,
      changes,
      ...(typeof item.cert === 'string' ? { certificate: viewCertificateFromJson(JSON.parse(item.cert), 'cert') } : {}),
    };
  }

  /** One conditional update raising each listed head field (and its certificate, which travels with it, never alone). */
  private async raise(
    parts: { field: string; height: string; certField: string; c: Checkpoint; cert: Certificate | undefined }[],
  ): Promise<{ ok: boolean; view: number | undefined }> {
    const sets: string[] = [];
    const removes: string[] = [];
    const conditions: string[] = [];
    const values: Record<string, unknown> = {};
    parts.forEach((p, i) => {
      sets.push(`${p.field} = :c${i}`, `${p.height} = :h${i}`);
      values[`:c${i}`] = checkpointToJson(p.c);
      values[`:h${i}`] = p.c.height;
      if (p.cert) {
        sets.push(`${p.certField} = :x${i}`);
        values[`:x${i}`] = certificateItem(p.cert);
      } else removes.push(p.certField);
      conditions.push(`(attribute_not_exists(${p.height}) OR ${p.height} < :h${i})`);
    });
    const result = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: HEAD_KEY,
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeValues: values,
          // The view comes back with either outcome, at no extra cost (see HeadStore.raiseHead).
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return result.ok ? { ok: true, view: viewOf(result.value.Attributes) } : { ok: false, view: viewOf(result.old) };
  }
}

/** The view recorded in a head item (0 before any view change), or undefined without the item. */
const viewOf = (item: Record<string, unknown> | undefined): number | undefined =>
  item === undefined ? undefined : typeof item.vh === 'number' ? item.vh : 0;

const maxView = (...views: (number | undefined)[]): number | undefined => {
  const seen = views.filter((v): v is number => v !== undefined);
  return seen.length > 0 ? Math.max(...seen) : undefined;
};

const heightOfKey = (pk: unknown): number => Number(String(pk).slice(2));
