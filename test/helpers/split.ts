/**
 * A 4-region memory cluster in which one member equivocates across regions (issue 15, item 6): its
 * honest votes reach two regions (FACE_A) and, once, a conflicting vote of it reaches the other two
 * (FACE_B), so no region's finalizer ever holds both. Shared by the pipeline and HTTP tests of the
 * cross-region evidence audit.
 */
import { expect } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { wasmBlsCrypto } from '../../lib/core/bls-wasm.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { evidenceOf } from '../../lib/core/slashing.js';
import type { Link, Vote } from '../../lib/core/types.js';
import type { Transport } from '../../lib/pipeline/ports.js';
import { type Envelope, MemoryCluster } from '../../lib/sim/memory-cluster.js';

export const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
/** A hash no real block has. */
const other = new Uint8Array(32).fill(0xee);
const dealing = deal(4, 3);
/** Verification in WebAssembly: the same answers as the pure-JS pairing, faster. */
const crypto = await wasmBlsCrypto();
/** The equivocating member (hosted in sa-east-1) and where each of its two faces is seen. */
export const M = 4;
const FACE_A = new Set(REGIONS.slice(0, 2));
const FACE_B = REGIONS.slice(2);

export type Conflict = 'double' | 'surround';

/**
 * A cluster where member M's honest votes reach only FACE_A, and, once, a conflicting vote of M
 * reaches only FACE_B: for 'double' the same source as an honest vote with another target at the
 * same height; for 'surround' a link from two checkpoints below an honest vote's source to its
 * target, which surrounds M's previous honest vote (and conflicts with nothing else).
 */
export async function splitCluster(
  conflict: Conflict,
  seed: number,
  options: { holdConflicting?: boolean; auditHorizon?: number; checkpointInterval?: number } = {},
) {
  const honestVotes: Vote[] = [];
  const sent: Vote[] = [];
  /** The conflicting vote, when held back to be sent later (`release`). */
  let held: Vote | undefined;
  let cluster!: MemoryCluster;
  const sign = (link: Link): Vote => ({
    ...link,
    member: M,
    signature: cluster.crypto.signShare(dealing.shares[M - 1]!.secretKey, voteSigningBytes(cluster.set.chainId, link)),
  });
  cluster = await MemoryCluster.create({
    regions: REGIONS,
    seed,
    dealing,
    maxBlockTransactions: 1,
    checkpointInterval: options.checkpointInterval ?? 1,
    crypto,
    ...(options.auditHorizon !== undefined ? { auditHorizon: options.auditHorizon } : {}),
    hooks: {
      region: {
        inbox: async ({ member, deps, honest }) => {
          if (member !== M) return honest();
          const faceA: Transport = {
            send: (to, messages, options) =>
              to.queue === 'votes' && !FACE_A.has(to.region) ? Promise.resolve() : deps.transport.send(to, messages, options),
          };
          const outcome = await honest({ ...deps, transport: faceA });
          if (outcome.kind !== 'voted' || outcome.repeat || sent.length > 0) return outcome;
          const { link } = outcome;
          const K = cluster.set.checkpointInterval;
          const previous = honestVotes.at(-1);
          honestVotes.push(sign(link));
          let pair: [Vote, Vote] | undefined;
          if (conflict === 'double' && link.source.height >= K)
            pair = [sign(link), sign({ ...link, target: { ...link.target, hash: other } })];
          if (conflict === 'surround' && previous?.target.height === link.source.height && link.source.height >= 2 * K) {
            const lower = { height: link.source.height - 2 * K, hash: other, stateRoot: other };
            pair = [previous, sign({ era: link.era, source: lower, target: link.target })];
          }
          if (!pair) return outcome;
          sent.push(...pair);
          if (options.holdConflicting) held = pair[1];
          else await sendToFaceB(cluster, pair[1]);
          return outcome;
        },
      },
    },
  });
  submitTransfers(cluster, 0n, 4n);
  return { cluster, sent, release: () => sendToFaceB(cluster, held!) };
}

async function sendToFaceB(cluster: MemoryCluster, vote: Vote): Promise<void> {
  for (const region of FACE_B) await cluster.transport.send({ queue: 'votes', region }, [{ kind: 'vote', vote, ancestry: [] }]);
}

export function submitTransfers(cluster: MemoryCluster, from: bigint, to: bigint): void {
  for (let nonce = from; nonce < to; nonce++)
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(0), { to: ed25519PublicKey(devSecretKey(1)), amount: 1n, nonce }));
}

/**
 * Runs until nothing but finality notices is pending and returns those, held back: the chain
 * finalizes (validators and finalizers need no state function), but no state function has run, so
 * no audit either.
 */
export async function runHoldingNotices(cluster: MemoryCluster): Promise<Envelope[]> {
  const held: Envelope[] = [];
  const hold = () => {
    for (let i = cluster.pending.length - 1; i >= 0; i--)
      if (cluster.pending[i]!.queue.startsWith('finalized:')) held.push(...cluster.pending.splice(i, 1));
  };
  hold();
  while (await cluster.step()) hold();
  return held;
}

/**
 * Runs until nothing is pending, keeping every finality notice back until all other messages are
 * delivered: the state functions then apply and audit with every vote already recorded. Returns the
 * notices' count.
 */
export async function runNoticesLast(cluster: MemoryCluster): Promise<number> {
  const held = await runHoldingNotices(cluster);
  await expectNoEvidence(cluster); // the finalizers alone never see both votes
  cluster.pending.push(...held);
  await cluster.run();
  return held.length;
}

export async function expectNoEvidence(cluster: MemoryCluster): Promise<void> {
  for (const region of REGIONS) expect(await cluster.node(region).raw.finality.listEvidence(100), region).toEqual([]);
}

/** Every region holds evidence against M of kind `conflict`, each item verifiable with M's key alone, and none against anyone else. */
export async function expectEvidenceEverywhere(cluster: MemoryCluster, conflict: Conflict): Promise<void> {
  const publicKey = cluster.set.members[M - 1]!.publicKey;
  for (const region of REGIONS) {
    const evidence = await cluster.node(region).raw.finality.listEvidence(100);
    expect(evidence.length, `evidence in ${region}`).toBeGreaterThan(0);
    for (const e of evidence) {
      expect(e.member).toBe(M);
      expect(e.kind).toBe(conflict);
      expect(evidenceOf(e.first, e.second)?.kind).toBe(conflict);
      for (const v of [e.first, e.second])
        expect(cluster.crypto.verify(publicKey, voteSigningBytes(cluster.set.chainId, v), v.signature)).toBe(true);
    }
  }
}
