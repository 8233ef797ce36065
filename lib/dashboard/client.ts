/**
 * The dashboard's browser script (bundled by index.ts with esbuild into one inline script).
 * Polls each region's API, draws heights, lag and throughput, verifies every region's latest
 * certificate here in the browser with the client verifier (lib/core/verifier.ts), and lists
 * recent evidence. Server text only ever reaches the page through textContent.
 */
import { fromHex, toHex } from '../core/bytes.js';
import { verifyCertificate } from '../core/verifier.js';
import { chartGeometry, type DashboardConfig, pushSample, ratePerSecond, regionUrls, type Sample, shortHex } from './model.js';

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
  key: string;
  ok: boolean;
  lines: string[];
}

interface RegionState {
  readonly url: string;
  name: string;
  health?: Health;
  healthStatus?: number;
  certificate?: CertificateJson | null;
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
const SVG_NS = 'http://www.w3.org/2000/svg';

const config = JSON.parse(document.getElementById('afg-config')?.textContent ?? '{}') as DashboardConfig;
const self = `${location.origin}${location.pathname}`;
const regions: RegionState[] = regionUrls(location.search, config.peers, self).map((url) => ({
  url,
  name: url,
  evidence: [],
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

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
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

function verify(r: RegionState): void {
  const cert = r.certificate;
  if (cert === undefined || !validators) return;
  const key = JSON.stringify(cert);
  if (r.verdict?.key === key) return; // pairings are costly: verify each certificate once
  if (cert === null) {
    r.verdict = { key, ok: true, lines: ['no certificate yet: genesis is final by definition'] };
    return;
  }
  let opts: Parameters<typeof verifyCertificate>[1];
  try {
    opts = {
      groupPublicKey: fromHex(config.groupPublicKey ?? validators.groupPublicKey, 96, 'groupPublicKey'),
      chainId: fromHex(validators.chainId, 32, 'chainId'),
      checkpointInterval: validators.checkpointInterval,
      threshold: validators.threshold,
    };
  } catch (e) {
    r.verdict = { key, ok: false, lines: ['✗ cannot verify', `/v1/validators: ${e instanceof Error ? e.message : String(e)}`] };
    return;
  }
  const v = verifyCertificate(cert, opts);
  r.verdict = v.ok
    ? {
        key,
        ok: true,
        lines: [
          `verified ✓ link ${cert.source.height} → ${cert.target.height} finalizes height ${cert.source.height}`,
          `signers ${cert.signers.join(', ')} · state root ${shortHex(toHex(v.certificate.source.stateRoot))}`,
        ],
      }
    : { key, ok: false, lines: ['✗ verification failed', ...v.failures.map((f) => `[${f.check}] ${f.message}`)] };
}

async function pollRegion(r: RegionState, now: number): Promise<void> {
  try {
    const [health, finality, evidence] = await Promise.all([
      getJson<Health>(r.url, '/v1/health', [503]),
      getJson<{ region: string; certificate: CertificateJson | null }>(r.url, '/v1/finality'),
      getJson<{ evidence: EvidenceJson[] }>(r.url, '/v1/evidence?limit=10'),
    ]);
    r.health = health.body;
    r.healthStatus = health.status;
    r.name = health.body.region;
    r.certificate = finality.body.certificate;
    r.evidence = evidence.body.evidence;
    r.error = undefined;
    const { blocks } = health.body.lag;
    const finalized = health.body.finalized;
    if (blocks !== null) r.lag = pushSample(r.lag, { t: now, v: blocks }, config.window);
    if (finalized !== null) {
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

function chart(id: string, title: string, unit: string, series: Record<string, Sample[]>): SVGElement {
  const box = { width: 520, height: 180, pad: { left: 44, right: 12, top: 26, bottom: 20 } };
  const g = chartGeometry(series, box, Math.max(1, config.window - 1) * config.pollMs);
  const root = svg('svg', {
    viewBox: `0 0 ${box.width} ${box.height}`,
    width: box.width,
    height: box.height,
    'data-testid': id,
    role: 'img',
  });
  root.append(svg('title', {}, title));
  root.append(svg('text', { x: 4, y: 14, class: 'chart-title' }, `${title} (${unit})`));
  const x0 = box.pad.left;
  const x1 = box.width - box.pad.right;
  const yTop = box.pad.top;
  const yBottom = box.height - box.pad.bottom;
  for (const [v, y] of [
    [0, yBottom],
    [g.yMax / 2, (yTop + yBottom) / 2],
    [g.yMax, yTop],
  ] as const) {
    root.append(svg('line', { x1: x0, x2: x1, y1: y, y2: y, class: 'grid' }));
    root.append(svg('text', { x: x0 - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, String(Math.round(v * 100) / 100)));
  }
  g.lines.forEach((line, i) => {
    // Colour by region, so a region keeps its colour across charts.
    const index = regions.findIndex((r) => r.name === line.name);
    const color = COLORS[(index >= 0 ? index : i) % COLORS.length]!;
    if (line.points) root.append(svg('polyline', { points: line.points, fill: 'none', stroke: color, 'stroke-width': 2 }));
    if (line.end) root.append(svg('circle', { cx: line.end.x, cy: line.end.y, r: 3, fill: color }));
    const label = `${line.name}${line.last !== undefined ? ` ${Math.round(line.last * 10) / 10}` : ''}`;
    root.append(svg('text', { x: x0 + 8 + i * 150, y: box.height - 4, style: `fill:${color}`, class: 'legend' }, label));
  });
  return root;
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
      ...(v ? v.lines.map((l) => h('div', {}, l)) : [h('div', {}, r.error ? `unreachable: ${r.error}` : 'waiting for /v1/finality…')]),
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
  replace(
    'charts',
    chart('chart-lag', 'Finality lag', 'blocks, head − finalized', lag),
    chart('chart-blocks', 'Throughput', 'blocks finalized per s', blocks),
    Object.keys(txs).length > 0 && chart('chart-txs', 'Throughput', 'transactions sequenced per s', txs),
  );
  replace('certificates', ...renderCertificates());
  replace('validators', renderValidators());
  replace('evidence', renderEvidence());
  replace('updated', `polled ${polls} time(s), every ${config.pollMs} ms · ${regions.length} region(s)`);
}

async function tick(): Promise<void> {
  try {
    if (!validators) await loadValidators();
    await Promise.all(regions.map((r) => pollRegion(r, performance.now())));
    for (const r of regions) verify(r);
    polls++;
    render();
    document.body.dataset.polls = String(polls);
  } finally {
    setTimeout(tick, config.pollMs);
  }
}

void tick();
