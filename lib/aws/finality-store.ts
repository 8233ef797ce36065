/**
 * FinalityStore (vote log, evidence, tallies, checkpoints, head) and SlashingProtectionStore over
 * one region's finality table (pk S + sk S). Every write is one conditional or idempotent request.
 *
 * Item layout (checkpoints are maps {height N, hash S, stateRoot S}; links add era S (u64 decimal);
 * certificates add signers (L of N) and signature S; hex is lowercase):
 *   pk `WATERMARK#<member>`         sk `-`                          sourceHeight N, targetHeight N, id S (linkId), link M, signature S
 *                                                                   (id, link and signature absent when only an import wrote the item)
 *   pk `V#<member>`                 sk `<padHeight(target)>#<linkId>#<signature>` vote M, w S (write token)
 *   pk `E`                          sk `<member>#<kind>#<linkIdA>#<linkIdB>` (ids sorted) evidence M
 *   pk `L#<linkId>`                 sk `-`                          link M, signers NS, p<member> S (partials), cert M
 *   pk `C#<padHeight>`              sk `<hash>:<stateRoot>`         checkpoint M, status S (justified|finalized),
 *                                                                   justification M, finalization M, jw S, fw S (write tokens)
 *   pk `W#<checkpointId(source)>`   sk `<linkId>`                   cert M: a certified link waiting for its source
 *   pk `HEAD`                       sk `-`                          justified M, jh N, finalized M, fh N, finalization M
 *
 * Genesis is justified and finalized by definition and never written: checkpointsAt(0) and head()
 * supply it, and markJustified/markFinalized of genesis return false.
 * Reads the finalizer's cascade depends on (checkpoint status, waiting links, tallies) are strongly
 * consistent: it writes the waiting link, then reads the source status (see lib/pipeline/finalizer.ts).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { fromHex, parseU64Decimal, toHex } from '../core/bytes.js';
import { checkpointEquals } from '../core/codec.js';
import { checkpointId, linkId, padHeight } from '../core/ids.js';
import { mergeWatermarks } from '../core/interchange.js';
import type { Evidence, Watermark } from '../core/slashing.js';
import type { Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import { aobject, type CheckpointJson, checkpointFromJson, checkpointToJson } from '../core/wire.js';
import type {
  CheckpointRecord,
  FinalityHead,
  FinalityStore,
  LinkTally,
  SignOutcome,
  SlashingProtectionStore,
  WatermarkStore,
} from '../pipeline/ports.js';
import { conditional, putOnce, StoreError, writeToken } from './errors.js';
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
const tallyKey = (l: Link) => ({ pk: `L#${linkId(l)}`, sk: '-' });
const checkpointKey = (c: Checkpoint) => ({ pk: `C#${padHeight(c.height)}`, sk: `${toHex(c.hash)}:${toHex(c.stateRoot)}` });
const PARTIAL_RE = /^p(\d+)$/;

/** One region's finality table. `genesis` is the chain's genesis checkpoint (justified and finalized by definition). */
export class DynamoFinalityStore implements FinalityStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly genesis: Checkpoint,
  ) {}

  // -------------------------------------------------------------- votes and evidence

  async recordVote(vote: Vote): Promise<'new' | 'duplicate'> {
    const w = writeToken();
    // Guards: a redelivered vote must not be logged twice; our own landed write (a retry) still counts as 'new'.
    const result = await conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `V#${vote.member}`,
            sk: `${padHeight(vote.target.height)}#${linkId(vote)}#${toHex(vote.signature)}`,
            vote: voteItem(vote),
            w,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return result.ok || result.old?.w === w ? 'new' : 'duplicate';
  }

  async votesOf(member: number, fromTargetHeight: number): Promise<Vote[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk >= :from',
      ExpressionAttributeValues: { ':pk': `V#${member}`, ':from': padHeight(fromTargetHeight) },
      ConsistentRead: true,
    });
    return items.map((i) => voteFrom(i.vote, 'vote'));
  }

  async putEvidence(e: Evidence): Promise<void> {
    const [a, b] = [linkId(e.first), linkId(e.second)].sort();
    // The key names the pair, so a rewrite (redelivered vote) replaces the item with the same evidence.
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: 'E',
          sk: `${e.member}#${e.kind}#${a}#${b}`,
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

  // -------------------------------------------------------------- tallies

  async addPartial(vote: Vote): Promise<LinkTally> {
    // One atomic update: the member's partial is set only if absent (the first one counts; a retry or a
    // redelivery is a no-op) and its index joins the signer set; ALL_NEW returns the tally after the write.
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: tallyKey(vote),
        UpdateExpression: 'SET #link = if_not_exists(#link, :link), #p = if_not_exists(#p, :sig) ADD #signers :m',
        ExpressionAttributeNames: { '#link': 'link', '#p': `p${vote.member}`, '#signers': 'signers' },
        ExpressionAttributeValues: { ':link': linkItem(vote), ':sig': toHex(vote.signature), ':m': new Set([vote.member]) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return this.tallyFrom(out.Attributes ?? {});
  }

  private tallyFrom(item: Record<string, unknown>): LinkTally {
    const partials = new Map<number, Uint8Array>();
    for (const [name, value] of Object.entries(item)) {
      const m = PARTIAL_RE.exec(name);
      if (m) partials.set(Number(m[1]), fromHex(value, 48, name));
    }
    return { link: linkFrom(item.link, 'link'), partials, ...(item.cert ? { certificate: certificateFrom(item.cert, 'cert') } : {}) };
  }

  async removePartials(link: Link, bad: readonly { member: number; signature: Uint8Array }[]): Promise<void> {
    await Promise.all(
      bad.map((b) =>
        // Guards: a bad partial is dropped only if it is still the same bytes (a concurrent invocation may already
        // have replaced it by a valid one after removing it). A failed condition means there is nothing to remove.
        conditional(() =>
          this.db.send(
            new UpdateCommand({
              TableName: this.table,
              Key: tallyKey(link),
              UpdateExpression: 'REMOVE #p DELETE #signers :m',
              ConditionExpression: '#p = :sig',
              ExpressionAttributeNames: { '#p': `p${b.member}`, '#signers': 'signers' },
              ExpressionAttributeValues: { ':sig': toHex(b.signature), ':m': new Set([b.member]) },
            }),
          ),
        ),
      ),
    );
  }

  async setCertificate(c: Certificate): Promise<Certificate> {
    // Timeline guarded: two invocations combine different t-subsets of partials into different (equally valid)
    // certificates; the first stored one is the link's certificate for everyone. A retry of ours finds itself.
    const result = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: tallyKey(c),
          UpdateExpression: 'SET #cert = :cert, #link = if_not_exists(#link, :link)',
          ConditionExpression: 'attribute_not_exists(#cert)',
          ExpressionAttributeNames: { '#cert': 'cert', '#link': 'link' },
          ExpressionAttributeValues: { ':cert': certificateItem(c), ':link': linkItem(c) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (result.ok) return c;
    if (result.old?.cert === undefined)
      throw new StoreError('CORRUPT_ITEM', `tally ${linkId(c)} failed its condition without a certificate`, { table: this.table });
    return certificateFrom(result.old.cert, 'cert');
  }

  // -------------------------------------------------------------- checkpoints

  async checkpointsAt(height: number): Promise<CheckpointRecord[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `C#${padHeight(height)}` },
      ConsistentRead: true,
    });
    const records: CheckpointRecord[] = items.map((i) => ({
      checkpoint: checkpointFromJson(i.checkpoint, 'checkpoint'),
      status: i.status === 'finalized' ? 'finalized' : 'justified',
      ...(i.justification ? { justification: certificateFrom(i.justification, 'justification') } : {}),
      ...(i.finalization ? { finalization: certificateFrom(i.finalization, 'finalization') } : {}),
    }));
    return height === this.genesis.height ? [{ checkpoint: this.genesis, status: 'finalized' }, ...records] : records;
  }

  async markJustified(checkpoint: Checkpoint, justification: Certificate | undefined): Promise<boolean> {
    if (checkpointEquals(checkpoint, this.genesis)) return false;
    // Guards: a checkpoint is justified once (the first justification is kept) and a finalized one is never
    // downgraded. True only for the call whose write created the record.
    return putOnce(
      this.db,
      {
        TableName: this.table,
        Item: {
          ...checkpointKey(checkpoint),
          checkpoint: checkpointToJson(checkpoint),
          status: 'justified',
          ...(justification ? { justification: certificateItem(justification) } : {}),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
      'jw',
    );
  }

  async markFinalized(checkpoint: Checkpoint, finalization: Certificate | undefined): Promise<boolean> {
    if (checkpointEquals(checkpoint, this.genesis)) return false;
    const w = writeToken();
    // Guards: finalized once; the justification of an already justified record is kept (UpdateItem leaves it).
    const result = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: checkpointKey(checkpoint),
          UpdateExpression: `SET #cp = if_not_exists(#cp, :cp), #status = :fin, fw = :w${finalization ? ', finalization = :f' : ''}`,
          ConditionExpression: 'attribute_not_exists(pk) OR #status <> :fin',
          ExpressionAttributeNames: { '#cp': 'checkpoint', '#status': 'status' },
          ExpressionAttributeValues: {
            ':cp': checkpointToJson(checkpoint),
            ':fin': 'finalized',
            ':w': w,
            ...(finalization ? { ':f': certificateItem(finalization) } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return result.ok || result.old?.fw === w;
  }

  async awaitSource(c: Certificate): Promise<void> {
    // Idempotent: the key names the link; a rewrite stores the same certificate (setCertificate is first-writer-wins).
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { pk: `W#${checkpointId(c.source)}`, sk: linkId(c), cert: certificateItem(c) } }),
    );
  }

  async linksFrom(source: Checkpoint): Promise<Certificate[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `W#${checkpointId(source)}` },
      ConsistentRead: true,
    });
    return items.map((i) => certificateFrom(i.cert, 'cert'));
  }

  // -------------------------------------------------------------- head

  async head(): Promise<FinalityHead> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: HEAD_KEY, ConsistentRead: true }));
    const i = out.Item ?? {};
    return {
      justified: i.justified ? checkpointFromJson(i.justified, 'justified') : this.genesis,
      finalized: i.finalized ? checkpointFromJson(i.finalized, 'finalized') : this.genesis,
      ...(i.finalization ? { finalization: certificateFrom(i.finalization, 'finalization') } : {}),
    };
  }

  async raiseHead(u: { justified?: Checkpoint; finalized?: Checkpoint; finalization?: Certificate }): Promise<FinalityHead> {
    // Justified and finalized are raised independently, each by a conditional update: concurrent raises land in
    // any order and the head ends at the highest of each (a lower or equal one fails its condition and is ignored).
    const raise = (field: 'justified' | 'finalized', heightAttr: 'jh' | 'fh', c: Checkpoint, certificate?: Certificate) => {
      // The finalization certificate travels with `finalized` (its source is that checkpoint), never alone.
      const finalization = field === 'finalized' ? (certificate ? ', finalization = :cert' : ' REMOVE finalization') : '';
      return conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: HEAD_KEY,
            UpdateExpression: `SET #c = :c, #h = :h${finalization}`,
            ConditionExpression: 'attribute_not_exists(#h) OR #h < :h',
            ExpressionAttributeNames: { '#c': field, '#h': heightAttr },
            ExpressionAttributeValues: {
              ':c': checkpointToJson(c),
              ':h': c.height,
              ...(certificate ? { ':cert': certificateItem(certificate) } : {}),
            },
          }),
        ),
      );
    };
    const g = this.genesis.height;
    await Promise.all([
      u.justified && u.justified.height > g ? raise('justified', 'jh', u.justified) : undefined,
      u.finalized && u.finalized.height > g ? raise('finalized', 'fh', u.finalized, u.finalization) : undefined,
    ]);
    return this.head();
  }
}
