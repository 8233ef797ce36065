import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultThresholdCrypto } from '../../lib/core/bls-wasm.js';
import { isCheckpointHeight } from '../../lib/core/ffg.js';
import type { Checkpoint, ValidatorSet } from '../../lib/core/types.js';
import {
  poolRegions,
  sequencerRegion,
  VIEW_SIGNING_BYTES_LENGTH,
  VIEW_STATE_SIGNING_BYTES_LENGTH,
  type ViewCertificate,
  viewCertificateProblem,
  viewSigningBytes,
  viewStateSigningBytes,
  viewTargetHeight,
} from '../../lib/core/views.js';
import { simDealing } from '../../lib/sim/simulation.js';

const chainId = new Uint8Array(32).fill(7);
const genesis: Checkpoint = { height: 0, hash: new Uint8Array(32).fill(1), stateRoot: new Uint8Array(32).fill(2) };
const dealing = simDealing();
const set: ValidatorSet = {
  chainId,
  era: 0n,
  n: 4,
  threshold: 3,
  checkpointInterval: 2,
  groupPublicKey: dealing.groupPublicKey,
  members: dealing.shares.map((s, i) => ({ index: s.index, region: `r${i}`, publicKey: s.publicKey })),
};

async function certificate(view: number, signers = [1, 2, 3], lastTargets = [0, 0, 0]): Promise<ViewCertificate> {
  const crypto = await defaultThresholdCrypto();
  const states = signers.map((member, i) => {
    const state = { justified: genesis, lastTarget: lastTargets[i]! };
    const share = dealing.shares[member - 1]!;
    return { member, state, signature: crypto.signShare(share.secretKey, viewStateSigningBytes(chainId, 0n, view, state)) };
  });
  const partials = signers.map((member) => ({
    index: member,
    signature: crypto.signShare(dealing.shares[member - 1]!.secretKey, viewSigningBytes(chainId, 0n, view)),
  }));
  return { era: 0n, view, signers, signature: crypto.combine(partials, 3), states };
}

describe('view signing bytes', () => {
  it('have the documented fixed sizes and are domain-separated from each other', () => {
    const view = viewSigningBytes(chainId, 0n, 5);
    const state = viewStateSigningBytes(chainId, 0n, 5, { justified: genesis, lastTarget: 9 });
    expect(view.length).toBe(VIEW_SIGNING_BYTES_LENGTH);
    expect(view.length).toBe(59);
    expect(state.length).toBe(VIEW_STATE_SIGNING_BYTES_LENGTH);
    expect(state.length).toBe(145);
    expect(Buffer.from(view.subarray(0, 11)).toString()).toBe('AFG-VIEW-V1');
    expect(Buffer.from(state.subarray(0, 17)).toString()).toBe('AFG-VIEW-STATE-V1');
    // big-endian view number at the end of the view layout
    expect(Buffer.from(view.subarray(51)).readBigUInt64BE()).toBe(5n);
  });
});

describe('sequencerRegion', () => {
  it('rotates through the regions, view 0 in the first', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.integer({ min: 1, max: 8 }), (view, count) => {
        const regions = Array.from({ length: count }, (_, i) => `r${i}`);
        expect(sequencerRegion(view, regions)).toBe(regions[view % count]);
      }),
    );
    expect(() => sequencerRegion(-1, ['a'])).toThrow(RangeError);
  });
});

describe('poolRegions', () => {
  it("is the view's sequencer region, then every other region in view order starting with the next view's", () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.integer({ min: 1, max: 8 }), (view, count) => {
        const regions = Array.from({ length: count }, (_, i) => `r${i}`);
        const { active, backups } = poolRegions(view, regions);
        expect(active).toBe(sequencerRegion(view, regions));
        expect(backups).toEqual(Array.from({ length: count - 1 }, (_, k) => sequencerRegion(view + 1 + k, regions)));
        expect(new Set([active, ...backups]).size).toBe(count);
      }),
    );
    expect(poolRegions(5, ['a', 'b', 'c'])).toEqual({ active: 'c', backups: ['a', 'b'] });
    expect(poolRegions(0, ['a'])).toEqual({ active: 'a', backups: [] });
  });
});

describe('viewTargetHeight', () => {
  it('is a checkpoint above the justified one and above every signed target', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.nat(1000), fc.nat(200), (K, j, gap) => {
        const justified = { ...genesis, height: j * K };
        const lastTarget = j * K + gap;
        const target = viewTargetHeight(justified, lastTarget, K);
        expect(isCheckpointHeight(target, K)).toBe(true);
        expect(target).toBeGreaterThan(lastTarget);
        expect(target).toBeGreaterThanOrEqual(justified.height + K);
        // the lowest such checkpoint
        expect(target - K <= Math.max(lastTarget, justified.height)).toBe(true);
      }),
    );
  });
});

describe('viewCertificateProblem', () => {
  it('accepts t valid view changes and refuses each kind of tampering', async () => {
    const crypto = await defaultThresholdCrypto();
    const good = await certificate(1, [1, 2, 4], [0, 2, 2]);
    expect(viewCertificateProblem(set, crypto, genesis, good)).toBeUndefined();
    expect(viewCertificateProblem(set, crypto, genesis, { ...good, view: 2 })).toMatch(/statement signature|group signature/);
    expect(viewCertificateProblem(set, crypto, genesis, { ...good, signers: [1, 2] })).toMatch(/needs 3 distinct signers/);
    expect(viewCertificateProblem(set, crypto, genesis, { ...good, signers: [1, 1, 2] })).toMatch(/distinct/);
    const lied = { ...good, states: good.states.map((s, i) => (i === 0 ? { ...s, state: { ...s.state, lastTarget: 4 } } : s)) };
    expect(viewCertificateProblem(set, crypto, genesis, lied)).toMatch(/member 1's statement signature/);
    const higherJ = {
      ...good,
      states: good.states.map((s, i) => (i === 0 ? { ...s, state: { ...s.state, justified: { ...genesis, height: 2 } } } : s)),
    };
    expect(viewCertificateProblem(set, crypto, genesis, higherJ)).toBeDefined();
    expect(viewCertificateProblem(set, crypto, genesis, { ...good, era: 1n })).toMatch(/era/);
  });
});
