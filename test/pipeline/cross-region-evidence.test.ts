/**
 * Split equivocation (issue 15, item 6): a member sends one vote to some regions and a conflicting
 * one to the others, so no region's finalizer ever holds both. Each region's audit of the heights
 * it finalizes compares its tally with its peers' and must turn the pair into evidence everywhere.
 */
import { describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { evidenceOf } from '../../lib/core/slashing.js';
import type { Link, Vote } from '../../lib/core/types.js';
import type { Transport } from '../../lib/pipeline/ports.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const dealing = deal(4, 3);
/** The equivocating member (hosted in sa-east-1) and where each of its two faces is seen. */
const M = 4;
const FACE_A = new Set(REGIONS.slice(0, 2));
const FACE_B = REGIONS.slice(2);

type Conflict = 'double' | 'surround';

/**
 * A cluster where member M's honest votes reach only FACE_A, and, once, a conflicting vote of M
 * reaches only FACE_B: for 'double' the same source with another target at the same height, for
 * 'surround' a link from one checkpoint lower to one checkpoint higher (another target hash).
 */
async function splitCluster(conflict: Conflict, seed: number) {
  const sent: Vote[] = [];
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
          if (link.source.height < K) return outcome; // the surround needs a source above genesis
          const other = new Uint8Array(32).fill(0xee);
          const conflicting: Link =
            conflict === 'double'
              ? { ...link, target: { ...link.target, hash: other } }
              : {
                  era: link.era,
                  source: cluster.node(REGIONS[0]!).chain.genesis,
                  target: { height: link.target.height + K, hash: other, stateRoot: other },
                };
          const honestVote = sign(link);
          const vote = sign(conflicting);
          sent.push(honestVote, vote);
          for (const region of FACE_B) await deps.transport.send({ queue: 'votes', region }, [{ kind: 'vote', vote, ancestry: [] }]);
          return outcome;
        },
      },
    },
  });
  for (let nonce = 0n; nonce < 4n; nonce++)
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(0), { to: ed25519PublicKey(devSecretKey(1)), amount: 1n, nonce }));
  return { cluster, sent };
}

describe('split equivocation across regions', () => {
  for (const conflict of ['double', 'surround'] as const)
    it(`a ${conflict} vote split 2/2 between regions ends up as verifiable evidence in every region`, async () => {
      const { cluster, sent } = await splitCluster(conflict, 11);
      await cluster.run();
      expect(sent).toHaveLength(2);
      // No region's finalizer saw both votes.
      for (const region of REGIONS) {
        const finality = await cluster.node(region).query.finality();
        expect(finality.finalized.height, region).toBeGreaterThanOrEqual(4);
      }
      const expected = evidenceOf(sent[0]!, sent[1]!)!;
      expect(expected.kind).toBe(conflict);
      for (const region of REGIONS) {
        const evidence = (await cluster.node(region).raw.finality.listEvidence(100)).filter((e) => e.member === M);
        expect(evidence.length, `evidence against member ${M} in ${region}`).toBeGreaterThan(0);
        for (const e of evidence) {
          expect(e.kind).toBe(conflict);
          expect(evidenceOf(e.first, e.second)?.kind).toBe(conflict);
          for (const v of [e.first, e.second])
            expect(
              cluster.crypto.verify(cluster.set.members[M - 1]!.publicKey, voteSigningBytes(cluster.set.chainId, v), v.signature),
            ).toBe(true);
        }
      }
      // And no evidence against anyone else.
      for (const region of REGIONS)
        expect((await cluster.node(region).raw.finality.listEvidence(100)).every((e) => e.member === M)).toBe(true);
    });
});
