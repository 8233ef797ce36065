/**
 * The dashboard's browser script (bundled by index.ts with esbuild into one inline script).
 * Follows each region's finality stream (GET /v1/finality/stream through watchFinality, which
 * verifies every certificate here in the browser with the group key), polls its health, metrics
 * and evidence, and draws lag and throughput with uPlot. Server text only ever reaches the page
 * through textContent.
 */
import uPlot from 'uplot';
import { WatchError, watchFinality } from '../client/watch.js';
import { fromHex } from '../core/bytes.js';
import { alignSeries, type DashboardConfig, pushSample, ratePerSecond, regionUrls, type Sample, shortHex } from './model.js';

interface Height {
  height: number;
  hash?: string;
  stateRoot?: string;
}
interface CertificateJson {
  era: number;
  source: Height;
  target: Height;
  signers: number[];
  signature: string;
  message: string;
}
interface Validators {
  chainId: string;
  n: number;
  threshold: number;
  checkpointInterval: number;
  groupPublicKey: string;
  members: { index: number; region: string }[];
}
/** GET /v1/health. Heights, lag and evidence are null while the region's tables cannot be read (status down). */
interface Health {
  status: 'ok' | 'degraded' | 'down';
  region: string;
  head: number | null;
  justified: number | null;
  finalized: number | null;
  applied: number | null;
  lag: { blocks: number | null; appliedBehindFinalized: number | null; seconds?: number | null };
  validators: { index: number; region: string; lastVoteHeight: number | null }[];
  evidence: number | null;
  dlq?: Record<string, number> | null;
  failing?: string[];
}
interface VoteJson {
  source: Height;
  target: Height;
  member: number;
  signature: string;
}
interface EvidenceJson {
  kind: string;
  member: number;
  first: VoteJson;
  second: VoteJson;
}
interface Verdict {
  ok: boolean;
  lines: string[];
}

interface RegionState {
  readonly url: string;
  name: string;
  health?: Health;
  healthStatus?: number;
  /** The latest finalized checkpoint from the stream, its certificate verified. */
  finalized?: { height: number; stateRoot: string; certificate: CertificateJson };
  /** Checkpoints received on the stream. */
  streamed: number;
  /** Why the stream is reconnecting, while it is. */
  streamNote?: string;
  error?: string;
  evidence: EvidenceJson[];
  verdict?: Verdict;
  lag: Sample[];
  blockRate: Sample[];
  txRate: Sample[];
  /** Recent counter readings; a rate spans up to RATE_SPAN polls so bursty batches do not make a saw-tooth. */
  finalizedReadings: Sample[];
  sequencedReadings: Sample[];
  /** false once /v1/metrics answered 404: stop asking. */
  metrics: boolean;
}

const RATE_SPAN = 5;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
/** After a stream broke a rule (bad certificate, gap), try again this much later. */
const REWATCH_MS = 5000;

const config = JSON.parse(document.getElementById('afg-config')?.textContent ?? '{}') as DashboardConfig;
const self = `${location.origin}${location.pathname}`;
const regions: RegionState[] = regionUrls(location.search, config.peers, self).map((url) => ({
  url,
  name: url,
  evidence: [],
  streamed: 0,
  lag: [],
  blockRate: [],
  txRate: [],
  finalizedReadings: [],
  sequencedReadings: [],
  metrics: true,
}));
let validators: Validators | undefined;
let validatorsFrom = '';
let keyNote = '';
let polls = 0;

type Child = Node | string | number | null | undefined | false;

/** Element with attributes and children; strings become text nodes (never HTML). */
function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c);
  return e;
}

function replace(id: string, ...children: Child[]): void {
  const target = document.getElementById(id);
  if (!target) return;
  target.replaceChildren(
    ...children
      .filter((c): c is Node | string => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === 'number' ? String(c) : c)),
  );
}

/** GET a JSON answer; 503 from /v1/health still carries the body. */
async function getJson<T>(base: string, path: string, accept: number[] = []): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, { cache: 'no-store', signal: AbortSignal.timeout(Math.max(2000, config.pollMs * 2)) });
  if (!res.ok && !accept.includes(res.status)) throw new Error(`${path}: HTTP ${res.status}`);
  return { status: res.status, body: (await res.json()) as T };
}

async function loadValidators(): Promise<void> {
  for (const r of regions) {
    try {
      validators = (await getJson<Validators>(r.url, '/v1/validators')).body;
      validatorsFrom = r.url;
      break;
    } catch {
      // try the next region
    }
  }
  if (!validators) return;
  if (config.groupPublicKey) {
    keyNote =
      config.groupPublicKey === validators.groupPublicKey
        ? 'group key pinned by the page (matches /v1/validators)'
        : 'group key pinned by the page; /v1/validators shows a DIFFERENT key';
  } else keyNote = `group key taken from ${validatorsFrom}/v1/validators (not pinned)`;
}

/**
 * Follows one region's finality stream for as long as the page is open. Every event is verified
 * by watchFinality before it is shown; a stream that breaks a rule is shown as failed and
 * followed again a little later.
 */
async function watch(r: RegionState): Promise<void> {
  const set = validators!;
  let opts: Parameters<typeof watchFinality>[1];
  try {
    opts = {
      groupPublicKey: fromHex(config.groupPublicKey ?? set.groupPublicKey, 96, 'groupPublicKey'),
      chainId: fromHex(set.chainId, 32, 'chainId'),
      checkpointInterval: set.checkpointInterval,
      threshold: set.threshold,
      maxAttempts: Number.POSITIVE_INFINITY,
      maxRetryMs: 10_000,
      onReconnect: (info) => {
        r.streamNote = `stream reconnecting (${info.reason})`;
      },
    };
  } catch (e) {
    r.verdict = { ok: false, lines: ['✗ cannot verify', `/v1/validators: ${e instanceof Error ? e.message : String(e)}`] };
    return;
  }
  for (;;) {
    try {
      for await (const c of watchFinality(r.url, { ...opts, ...(r.finalized ? { from: r.finalized.height } : {}) })) {
        r.finalized = { height: c.height, stateRoot: c.stateRoot, certificate: c.certificate };
        r.streamed++;
        r.streamNote = undefined;
        const cert = c.certificate;
        r.verdict = {
          ok: true,
          lines: [
            `verified ✓ link ${cert.source.height} → ${cert.target.height} finalizes height ${cert.source.height}`,
            `signers ${cert.signers.join(', ')} · state root ${shortHex(c.stateRoot)}`,
          ],
        };
        scheduleRender();
      }
    } catch (e) {
      const failures = e instanceof WatchError ? (e.meta.failures ?? []) : [];
      r.verdict = {
        ok: false,
        lines: [
          '✗ verification failed',
          ...(failures.length > 0 ? failures.map((f) => `[${f.check}] ${f.message}`) : [e instanceof Error ? e.message : String(e)]),
        ],
      };
      scheduleRender();
    }
    await new Promise((resolve) => setTimeout(resolve, REWATCH_MS));
  }
}

let renderPending = false;
/** Renders once on the next frame, however many events arrived. */
function scheduleRender(): void {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

async function pollRegion(r: RegionState, now: number): Promise<void> {
  try {
    const [health, evidence] = await Promise.all([
      getJson<Health>(r.url, '/v1/health', [503]),
      getJson<{ evidence: EvidenceJson[] }>(r.url, '/v1/evidence?limit=10'),
    ]);
    r.health = health.body;
    r.healthStatus = health.status;
    r.name = health.body.region;
    r.evidence = evidence.body.evidence;
    r.error = undefined;
    // Finality comes from the stream (verified); the head and lag from the health poll (null while the region is down).
    const { blocks } = health.body.lag;
    if (blocks !== null) r.lag = pushSample(r.lag, { t: now, v: blocks }, config.window);
    const finalized = Math.max(r.finalized?.height ?? 0, health.body.finalized ?? 0);
    if (finalized > 0 || health.body.finalized !== null) {
      const fin = { t: now, v: finalized };
      const rate = ratePerSecond(r.finalizedReadings[0], fin);
      if (rate !== undefined) r.blockRate = pushSample(r.blockRate, { t: now, v: rate }, config.window);
      r.finalizedReadings = pushSample(r.finalizedReadings, fin, RATE_SPAN);
    }
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
    return;
  }
  if (!r.metrics) return;
  try {
    const m = await getJson<{ totals: Record<string, number> }>(r.url, '/v1/metrics', [404]);
    if (m.status === 404) {
      r.metrics = false;
      return;
    }
    const seq = { t: now, v: m.body.totals.TransactionsSequenced ?? 0 };
    // A counter that went down means a restarted process: start the readings over.
    if (seq.v < (r.sequencedReadings.at(-1)?.v ?? 0)) r.sequencedReadings = [];
    const rate = ratePerSecond(r.sequencedReadings[0], seq);
    if (rate !== undefined) r.txRate = pushSample(r.txRate, { t: now, v: rate }, config.window);
    r.sequencedReadings = pushSample(r.sequencedReadings, seq, RATE_SPAN);
  } catch {
    // metrics are optional; the next poll tries again
  }
}

interface ChartState {
  plot: uPlot;
  /** Series names the plot was built with; a change rebuilds it. */
  key: string;
}
const charts = new Map<string, ChartState>();

/**
 * One chart per id, drawn by uPlot: a shared time axis (wall clock, the browser's), one line per
 * region in the region's colour, and uPlot's HTML legend below the plot, which wraps instead of
 * clipping however many regions there are. `data-points` on the container counts each series'
 * drawn points (the browser test reads it).
 */
function chart(id: string, title: string, unit: string, series: Record<string, Sample[]>): HTMLElement {
  const names = Object.keys(series);
  const key = names.join('\n');
  let state = charts.get(id);
  if (!state || state.key !== key) {
    state?.plot.destroy();
    const opts: uPlot.Options = {
      width: 520,
      height: 200,
      scales: {
        // The latest `window` polls, ending at the newest sample (one sample alone would span years).
        x: { time: true, range: (_u, _min, max) => [max - Math.max(1, config.window - 1) * (config.pollMs / 1000), max] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [{}, { size: 48, values: (_u, ticks) => ticks.map((v) => String(Math.round(v * 100) / 100)) }],
      legend: { live: false },
      cursor: { show: false },
      series: [
        {},
        ...names.map((name, i) => {
          // Colour by region, so a region keeps its colour across charts.
          const index = regions.findIndex((r) => r.name === name);
          return { label: name, stroke: COLORS[(index >= 0 ? index : i) % COLORS.length]!, width: 2, points: { size: 5 }, spanGaps: false };
        }),
      ],
    };
    state = { plot: new uPlot(opts, [[]], undefined), key };
    charts.set(id, state);
  }
  const { xs, ys } = alignSeries(series);
  // uPlot's time axis is in seconds.
  state.plot.setData([xs.map((t) => t / 1000), ...ys]);
  const container = document.getElementById(id) ?? h('div', { id, class: 'chart', 'data-testid': id });
  container.replaceChildren(h('div', { class: 'chart-title' }, `${title} (${unit})`), state.plot.root);
  container.dataset.points = JSON.stringify(Object.fromEntries(names.map((n, i) => [n, ys[i]!.filter((v) => v !== null).length])));
  return container;
}

function cell(text: Child, cls = ''): HTMLElement {
  return h('td', cls ? { class: cls } : {}, text);
}

function renderRegions(): HTMLElement {
  const head = h(
    'tr',
    {},
    ...['region', 'status', 'head', 'justified', 'finalized', 'applied', 'lag (blocks)', 'lag (s, local)', 'evidence', 'DLQ'].map((t) =>
      h('th', {}, t),
    ),
  );
  const rows = regions.map((r) => {
    const x = r.health;
    if (!x || r.error)
      return h('tr', { 'data-testid': `region-${r.name}` }, cell(r.name), cell(r.error ? `unreachable: ${r.error}` : 'loading…', 'bad'));
    // Only non-empty DLQs are named; the cell's tooltip lists them all.
    const all = x.dlq ? Object.entries(x.dlq) : [];
    const waiting = all.filter(([, n]) => n > 0);
    const dlq = !x.dlq ? 'n/a' : waiting.length > 0 ? waiting.map(([q, n]) => `${q}: ${n}`).join(', ') : `empty (${all.length})`;
    const dlqBad = waiting.length > 0;
    return h(
      'tr',
      { 'data-testid': `region-${r.name}` },
      cell(r.name),
      h(
        'td',
        { class: x.status === 'ok' ? 'good' : 'bad', title: (x.failing ?? []).join('\n') },
        x.status === 'ok' ? 'ok' : `${x.status} (${r.healthStatus})`,
      ),
      cell(x.head ?? '?'),
      cell(x.justified ?? '?'),
      cell(x.finalized ?? '?', 'strong'),
      cell(x.applied ?? '?'),
      cell(x.lag.blocks ?? '?'),
      cell(x.lag.seconds ?? 'n/a'),
      cell(x.evidence ?? '?', (x.evidence ?? 0) > 0 ? 'bad' : ''),
      h('td', { class: dlqBad ? 'bad' : '', title: all.map(([q, n]) => `${q}: ${n}`).join('\n') }, dlq),
    );
  });
  return h('table', {}, h('thead', {}, head), h('tbody', {}, ...rows));
}

function renderCertificates(): HTMLElement[] {
  return regions.map((r) => {
    const v = r.verdict;
    const cls = !v ? 'cert' : v.ok ? 'cert good' : 'cert bad';
    return h(
      'div',
      { class: cls, 'data-testid': `cert-${r.name}` },
      h('div', { class: 'cert-region' }, r.name),
      ...(v
        ? v.lines.map((l) => h('div', {}, l))
        : [h('div', {}, r.error ? `unreachable: ${r.error}` : (r.streamNote ?? 'waiting for the finality stream…'))]),
      v?.ok && r.streamNote ? h('div', { class: 'muted' }, r.streamNote) : null,
    );
  });
}

function renderValidators(): HTMLElement | string {
  if (!validators) return 'waiting for /v1/validators…';
  const head = h('tr', {}, h('th', {}, 'member'), h('th', {}, 'region'), ...regions.map((r) => h('th', {}, `last vote seen in ${r.name}`)));
  const rows = validators.members.map((m) =>
    h(
      'tr',
      {},
      cell(m.index),
      cell(m.region),
      ...regions.map((r) => cell(r.health?.validators.find((v) => v.index === m.index)?.lastVoteHeight ?? '–')),
    ),
  );
  return h('table', {}, h('thead', {}, head), h('tbody', {}, ...rows));
}

function renderEvidence(): HTMLElement | string {
  const seen = new Map<string, { e: EvidenceJson; regions: string[] }>();
  for (const r of regions)
    for (const e of r.evidence) {
      const key = `${e.kind}:${e.member}:${e.first.signature}:${e.second.signature}`;
      const entry = seen.get(key) ?? { e, regions: [] };
      entry.regions.push(r.name);
      seen.set(key, entry);
    }
  if (seen.size === 0) return h('p', { class: 'good' }, 'no evidence stored');
  const link = (v: VoteJson) => `${v.source.height} → ${v.target.height} (${shortHex(v.target.hash ?? '', 6)})`;
  return h(
    'ul',
    { 'data-testid': 'evidence' },
    ...[...seen.values()].map(({ e, regions: where }) =>
      h('li', {}, `${e.kind} vote by member ${e.member}: ${link(e.first)} vs ${link(e.second)} · stored in ${where.join(', ')}`),
    ),
  );
}

function render(): void {
  if (validators)
    replace(
      'chain',
      `chain ${shortHex(validators.chainId)} · n ${validators.n} · t ${validators.threshold} · K ${validators.checkpointInterval} · ${keyNote}`,
    );
  replace('regions', renderRegions());
  const lag: Record<string, Sample[]> = {};
  const blocks: Record<string, Sample[]> = {};
  const txs: Record<string, Sample[]> = {};
  for (const r of regions) {
    lag[r.name] = r.lag;
    blocks[r.name] = r.blockRate;
    if (r.txRate.some((s) => s.v > 0)) txs[r.name] = r.txRate;
  }
  const shown = [
    chart('chart-lag', 'Finality lag', 'blocks, head − finalized', lag),
    chart('chart-blocks', 'Throughput', 'blocks finalized per s', blocks),
    Object.keys(txs).length > 0 && chart('chart-txs', 'Throughput', 'transactions sequenced per s', txs),
  ];
  // Re-attach only when the set of charts changed: moving a canvas around would make it flicker.
  const target = document.getElementById('charts');
  const wanted = shown.filter((c): c is HTMLElement => c !== false);
  if (target && (target.children.length !== wanted.length || wanted.some((c, i) => target.children[i] !== c)))
    target.replaceChildren(...wanted);
  replace('certificates', ...renderCertificates());
  replace('validators', renderValidators());
  replace('evidence', renderEvidence());
  const streamed = regions.reduce((n, r) => n + r.streamed, 0);
  replace(
    'updated',
    `following ${regions.length} finality stream(s): ${streamed} verified checkpoint(s) · health polled ${polls} time(s), every ${config.pollMs} ms`,
  );
}

let watching = false;

async function tick(): Promise<void> {
  try {
    if (!validators) await loadValidators();
    if (validators && !watching) {
      watching = true;
      for (const r of regions) void watch(r);
    }
    // One wall-clock time per poll for every region, so the charts' columns line up.
    const now = Date.now();
    await Promise.all(regions.map((r) => pollRegion(r, now)));
    polls++;
    render();
    document.body.dataset.polls = String(polls);
  } finally {
    setTimeout(tick, config.pollMs);
  }
}

void tick();
