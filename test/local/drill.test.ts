/**
 * The drill's figures (lib/local/drill.ts) against a scripted cluster: recovery is measured from the
 * kill to a survivor finalizing above the highest head at the kill (not merely beyond its own height,
 * which old in-flight work can do), agreement compares the finalized hashes of the regions up, and a
 * region that is down reports no height.
 */
import { describe, expect, it } from 'vitest';
import { type DrillCluster, DrillRunner, MAX_COMPARED } from '../../lib/local/drill.js';

/** A cluster whose heights and hashes the test sets; kill/revive only flip the down set. */
function scripted(names: string[]) {
  const state = new Map(names.map((n) => [n, { head: 3, finalized: 2, hashes: new Map<number, string>() }]));
  const down: string[] = [];
  const cluster: DrillCluster = {
    config: { checkpointInterval: 1 },
    get downRegions() {
      return down;
    },
    regions: names.map((region) => ({
      region,
      follower: false,
      runtime: {
        query: {
          finality: async () => {
            if (down.includes(region)) throw new Error('connect ECONNREFUSED');
            const s = state.get(region)!;
            return { head: { height: s.head }, finalized: { height: s.finalized, hash: s.hashes.get(s.finalized) ?? `h${s.finalized}` } };
          },
          checkpoint: async (h: number) => ({ hash: state.get(region)!.hashes.get(h) ?? `h${h}`, status: 'finalized' }),
        },
      },
    })),
    kill: async (r) => {
      down.push(r);
    },
    revive: async (r) => {
      down.splice(down.indexOf(r), 1);
    },
  };
  return { cluster, state };
}

describe('DrillRunner', () => {
  it('measures the first advance, the recovery above the head at the kill, and when every survivor recovered', async () => {
    const { cluster, state } = scripted(['us-east-1', 'eu-west-1', 'sa-east-1']);
    state.get('us-east-1')!.head = 5; // the killed sequencer had proposed up to 5
    let now = 0;
    const drill = new DrillRunner(
      cluster,
      [],
      () => {},
      () => now,
    );
    now = 20_000;
    await drill.runStep({ action: 'kill', region: 'us-east-1', atSeconds: 20 });
    // 1 s later: old work finalizes in one survivor (3 > 2) but nothing above head 5 yet.
    now = 21_000;
    state.get('eu-west-1')!.finalized = 3;
    await drill.observe();
    // 9 s after the kill: eu-west-1 finalizes 6 (a block of the new view); sa-east-1 not yet.
    now = 29_000;
    state.get('eu-west-1')!.finalized = 6;
    await drill.observe();
    now = 31_500;
    state.get('sa-east-1')!.finalized = 6;
    await drill.observe();
    const report = await drill.stop();
    expect(report.steps).toEqual([
      {
        action: 'kill',
        region: 'us-east-1',
        atSeconds: 20,
        headAtKill: 5,
        firstAdvanceSeconds: 1,
        recoverySeconds: 9,
        allSurvivorsSeconds: 11.5,
      },
    ]);
    expect(report.finalizedByRegion).toEqual({ 'us-east-1': null, 'eu-west-1': 6, 'sa-east-1': 6 });
    expect(report.finalizedAgree).toBe(true);
    expect(report.agreementCheckedUpTo).toBe(6);
  });

  it('reports no recovery when the survivors never pass the head at the kill', async () => {
    const { cluster, state } = scripted(['us-east-1', 'eu-west-1']);
    let now = 0;
    const drill = new DrillRunner(
      cluster,
      [],
      () => {},
      () => now,
    );
    now = 5_000;
    await drill.runStep({ action: 'kill', region: 'us-east-1', atSeconds: 5 });
    state.get('eu-west-1')!.finalized = 3; // = head at the kill: old work, not recovery
    now = 9_000;
    const report = await drill.stop();
    expect(report.steps[0]).toMatchObject({ firstAdvanceSeconds: 4, recoverySeconds: null, allSurvivorsSeconds: null });
  });

  it('finds a height where two regions up finalized different hashes; a revived region is compared again', async () => {
    const { cluster, state } = scripted(['us-east-1', 'eu-west-1', 'sa-east-1']);
    const drill = new DrillRunner(
      cluster,
      [],
      () => {},
      () => 0,
    );
    await drill.runStep({ action: 'kill', region: 'us-east-1', atSeconds: 0 });
    await drill.runStep({ action: 'revive', region: 'us-east-1', atSeconds: 0 });
    for (const s of state.values()) s.finalized = 4;
    state.get('us-east-1')!.hashes.set(3, 'other');
    const report = await drill.stop();
    expect(report.finalizedAgree).toBe(false);
    expect(report.disagreements).toEqual([3]);
    expect(report.finalizedByRegion['us-east-1']).toBe(4);
  });

  it('compares at most the last MAX_COMPARED checkpoints of a long run', async () => {
    const { cluster, state } = scripted(['us-east-1', 'eu-west-1']);
    for (const s of state.values()) s.finalized = MAX_COMPARED + 500;
    state.get('us-east-1')!.hashes.set(10, 'old difference, outside the range');
    const report = await new DrillRunner(cluster, []).stop();
    expect([report.agreementCheckedFrom, report.agreementCheckedUpTo]).toEqual([501, MAX_COMPARED + 500]);
    expect(report.finalizedAgree).toBe(true);
  });
});
