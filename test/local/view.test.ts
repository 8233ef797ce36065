/** Terminal view: pure frame rendering, and one refresh over fake regions in plain (non-TTY) mode. */
import { describe, expect, it } from 'vitest';
import type { MetricName } from '../../lib/handlers/telemetry.js';
import type { LoadStats } from '../../lib/local/load.js';
import { summarize } from '../../lib/local/stats.js';
import { ClusterView, formatUptime, renderFrame, renderPlain, type ViewRegion, type ViewSnapshot } from '../../lib/local/view.js';

const rows = [
  { region: 'us-east-1', head: 12, justified: 11, finalized: 10, applied: 9, votesPerSecond: 4.25, evidence: 0 },
  { region: 'ap-northeast-1', head: 11, justified: 11, finalized: 10, applied: 10, votesPerSecond: 12, evidence: 2 },
];
const stats: LoadStats = {
  ratePerSecond: 10,
  offerSeconds: 10,
  maxInFlight: 256,
  maxInFlightPerSender: 1,
  senders: { total: 10, continuing: 0, retired: 1 },
  offered: 100,
  sent: 100,
  skipped: 0,
  skippedBy: {},
  sendLagMs: summarize([0, 1, 2]),
  accepted: 98,
  refused: { STALE_NONCE: 1 },
  refusedTotal: 1,
  failed: 1,
  finalized: 90,
  pending: 8,
  lost: 0,
  stranded: 0,
  latencyMs: summarize([800, 1200, 2500]),
  sustainedFinalizedPerSecond: 9,
  drainSeconds: 0,
  warnings: [],
};

describe('renderFrame', () => {
  it('shows every height, the lag, votes/s and evidence per region', () => {
    const text = renderFrame({ uptimeSeconds: 75, rows });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/up 1m15s/);
    const us = lines.find((l) => l.startsWith('us-east-1'))!;
    expect(us.trim().split(/\s+/)).toEqual(['us-east-1', '12', '11', '10', '9', '2', '4.3', '0']);
    const ap = lines.find((l) => l.startsWith('ap-northeast-1'))!;
    expect(ap.trim().split(/\s+/)).toEqual(['ap-northeast-1', '11', '11', '10', '10', '1', '12', '2']);
    expect(text).not.toMatch(/load:/);
  });

  it('adds offered vs finalized rates and latency percentiles under load', () => {
    const snap: ViewSnapshot = { uptimeSeconds: 5, rows, load: { offeredPerSecond: 10, finalizedPerSecond: 8.5, stats } };
    const text = renderFrame(snap);
    expect(text).toMatch(/offered 10\/s, finalized 8\.5\/s; 98 accepted, 90 final everywhere, 8 pending, 2 refused\/failed/);
    expect(text).toMatch(/p50 1\.20s {2}p90 2\.50s {2}p99 2\.50s {2}max 2\.50s/);
    expect(renderPlain(snap)).toMatch(
      /^\[5s\] us-east-1 h=12 j=11 f=10 a=9 votes\/s=4\.3 ev=0 \| ap-northeast-1 .* \| load offered=10\/s finalized=8\.5\/s/,
    );
  });

  it('says so when the load generator skipped transfers', () => {
    const behind = { ...stats, sent: 60, skipped: 40, skippedBy: { NO_IDLE_SENDER: 40 } };
    const text = renderFrame({ uptimeSeconds: 5, rows, load: { offeredPerSecond: 10, finalizedPerSecond: 8.5, stats: behind } });
    expect(text).toMatch(/2 refused\/failed, 40 SKIPPED \(generator behind schedule\)/);
    expect(renderFrame({ uptimeSeconds: 5, rows, load: { offeredPerSecond: 10, finalizedPerSecond: 8.5, stats } })).not.toMatch(/SKIPPED/);
  });

  it('marks an unreadable region and a capped evidence count', () => {
    const text = renderFrame({
      uptimeSeconds: 1,
      rows: [{ ...rows[0]!, evidence: 1000, evidenceCapped: true, error: 'connect ECONNREFUSED' }],
    });
    expect(text).toMatch(/1000\+ {2}\(unreadable: connect ECONNREFUSED\)/);
  });

  it("shows each embedded service's state and restarts", () => {
    const snap: ViewSnapshot = {
      uptimeSeconds: 1,
      rows,
      services: [
        { name: 'dynamodb-local', up: true, restarts: 1 },
        { name: 'sqs-emulator', up: false, restarts: 0 },
      ],
    };
    expect(renderFrame(snap)).toMatch(/^services: dynamodb-local up, 1 restart; sqs-emulator RESTARTING, 0 restarts$/m);
    expect(renderPlain(snap)).toMatch(/ \| dynamodb-local up, 1 restart; sqs-emulator RESTARTING, 0 restarts$/);
    expect(renderFrame({ uptimeSeconds: 1, rows })).not.toMatch(/services:/); // --endpoint: nothing to show
  });

  it('formatUptime', () => {
    expect([0, 59.9, 60, 3599].map(formatUptime)).toEqual(['0s', '59s', '1m00s', '59m59s']);
  });
});

function fakeRegion(region: string, votes: number, fail = false): ViewRegion & { totals: Map<MetricName, number> } {
  const totals = new Map<MetricName, number>([['VotesAccepted', votes]]);
  const query = {
    finality: async () => {
      if (fail) throw new Error('table gone');
      return {
        region,
        head: { height: 7, hash: '' },
        justified: { height: 6, hash: '' },
        finalized: { height: 5, hash: '', stateRoot: '' },
        applied: { height: 4, stateRoot: '' },
        certificate: null,
      };
    },
    evidence: async () => ({ count: 3, evidence: [] }),
  };
  return { region, url: 'http://127.0.0.1:1', runtime: { query } as unknown as ViewRegion['runtime'], telemetry: { totals }, totals };
}

describe('ClusterView', () => {
  it('reads each region in-process and prints a plain line when not a TTY', async () => {
    const written: string[] = [];
    const out = { isTTY: false, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream;
    const ok = fakeRegion('eu-west-1', 10);
    const view = new ClusterView({ regions: [ok, fakeRegion('sa-east-1', 0, true)], out, plainEveryMs: 0 });
    await view.refresh();
    expect(written.at(-1)).toMatch(
      /eu-west-1 h=7 j=6 f=5 a=4 votes\/s=0\.0 ev=3 \| sa-east-1 h=0 j=0 f=0 a=0 votes\/s=0\.0 ev=0 \(unreadable\)/,
    );
    const snap = view.snapshot();
    expect(snap.rows[1]!.error).toBe('table gone');
    view.note('a note');
    expect(written.at(-1)).toBe('a note\n');
    await view.stop();
  });
});
