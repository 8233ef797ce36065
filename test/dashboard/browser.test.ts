/**
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * served by the real node:http API server over the test fixture, it must show the heights, verify
 * the latest certificate in the browser, and flag a tampered one. Skipped, saying why, when the
 * browser is not installed (`apt-get install -y chromium`; CI installs it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { toHex } from '../../lib/core/bytes.js';
import { dashboardHtml } from '../../lib/dashboard/index.js';
import { QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`dashboard browser tests skipped: ${CHROMIUM} not found (install with: apt-get install -y chromium)`);

/** Serves the fixture with the finalizing certificate's signature replaced by another valid one (the 0 -> K link's), on the stream too. */
class TamperedQuery extends QueryService {
  constructor(
    fx: Fixture,
    private readonly otherSignature: string,
  ) {
    super({ chain: fx.chain, region: 'us-east-1', blocks: fx.blocks, finality: fx.finality, applied: fx.applied });
  }
  override async finality() {
    const f = await super.finality();
    return { ...f, certificate: f.certificate && { ...f.certificate, signature: this.otherSignature } };
  }
  override async checkpoint(height: number) {
    const c = await super.checkpoint(height);
    return 'certificate' in c && c.certificate ? { ...c, certificate: { ...c.certificate, signature: this.otherSignature } } : c;
  }
}

describe.skipIf(!haveChromium)(`dashboard in headless Chromium (${CHROMIUM})`, () => {
  let fx: Fixture;
  let honest: ApiServer;
  let tampered: ApiServer;
  let context: BrowserContext;
  let profile: string;
  let html: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fx = await buildFixture();
    // Pinned group key, as the local cluster passes it; fast polling so the charts fill quickly.
    html = await dashboardHtml({ groupPublicKey: fx.dealing.groupPublicKey, pollMs: 250, window: 20 });
    let sequenced = 0;
    const totals = new Map<string, number>();
    const metrics = () => {
      sequenced += 40 + (sequenced % 70); // a varying throughput for the transactions chart
      totals.set('TransactionsSequenced', sequenced);
      return { totals, last: totals };
    };
    const dlqDepths = async () => ({ 'afg-votes-dlq': 0, 'afg-finalized-dlq': 2 });
    const query = new QueryService({
      chain: fx.chain,
      region: fx.region,
      blocks: fx.blocks,
      finality: fx.finality,
      applied: fx.applied,
      dlqDepths,
    });
    honest = await startApiServer(
      createApi({ query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, dashboardHtml: html, metrics }),
      { port: 0 },
    );
    const other = toHex(fx.certificates[0]!.signature);
    tampered = await startApiServer(
      createApi({ query: new TamperedQuery(fx, other), transport: fx.transport, chain: fx.chain, maxLagBlocks: 2, dashboardHtml: html }),
      { port: 0 },
    );
    profile = await mkdtemp(join(tmpdir(), 'afg-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1200, height: 1000 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await honest?.close();
    await tampered?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  let finalityPolls = 0;
  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/finality') finalityPolls++;
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // Chromium logs every failed fetch; expected here: 503 (degraded health), 404 (no metrics), a closed port.
      const expected = /^Failed to load resource: (the server responded with a status of (404|503)|net::ERR_CONNECTION_REFUSED)/;
      if (m.type() === 'error' && !expected.test(m.text())) pageErrors.push(m.text());
    });
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);
    return page;
  }

  /** Decodes the PNG in the browser (canvas) and measures it: non-background share, distinct colours, one pixel. */
  async function measure(page: Page, png: Buffer) {
    return page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const { data } = ctx.getImageData(0, 0, img.width, img.height);
      const bg = [data[data.length - 4], data[data.length - 3], data[data.length - 2]]; // bottom-right corner
      let differing = 0;
      const colours = new Set<number>();
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
        if (Math.abs(r - bg[0]!) + Math.abs(g - bg[1]!) + Math.abs(b - bg[2]!) > 30) differing++;
        colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
      }
      const header = Array.from(ctx.getImageData(5, 5, 1, 1).data.slice(0, 3));
      return { width: img.width, height: img.height, differing: differing / (data.length / 4), colours: colours.size, header };
    }, png.toString('base64'));
  }

  it('shows heights, verifies the certificate in the browser, draws the charts and lists evidence', async () => {
    const page = await open(`${honest.url}/`);
    const cert = page.getByTestId('cert-eu-west-1');
    await expect.poll(() => cert.textContent(), { timeout: 30_000 }).toContain('verified ✓');
    expect(await cert.textContent()).toContain('link 2 → 4 finalizes height 2');
    expect(await cert.textContent()).toContain('signers 2, 3, 4');

    const cells = await page.getByTestId('region-eu-west-1').locator('td').allTextContents();
    // region, status, head, justified, finalized, applied, lag, lag s, evidence, DLQ
    expect(cells.slice(0, 8)).toEqual(['eu-west-1', 'ok', '5', '4', '2', '2', '3', 'n/a']);
    expect(cells.slice(8)).toEqual(['1', 'afg-finalized-dlq: 2']); // evidence count; only the non-empty DLQ is named
    expect(await page.locator('#chain').textContent()).toMatch(/n 4 · t 3 · K 2 · group key pinned by the page \(matches/);
    expect(await page.getByTestId('evidence').textContent()).toContain('double vote by member 4: 0 → 2');

    // Enough polls for the lag line and a throughput rate (two readings make one rate).
    await page.waitForFunction(() => Number(document.body.dataset.polls) >= 4, undefined, { timeout: 30_000 });
    const points = async (chart: string) => JSON.parse((await page.getByTestId(chart).getAttribute('data-points'))!);
    expect((await points('chart-lag'))['eu-west-1']).toBeGreaterThanOrEqual(3);
    expect((await points('chart-blocks'))['eu-west-1']).toBeGreaterThanOrEqual(1);
    expect((await points('chart-txs'))['eu-west-1']).toBeGreaterThanOrEqual(2);
    // Drawn by the chart library on a canvas, with its HTML legend.
    expect(await page.getByTestId('chart-lag').locator('canvas').count()).toBe(1);
    expect(await page.getByTestId('chart-lag').locator('.u-legend').textContent()).toContain('eu-west-1');
    // Finality arrived on the stream, not by polling /v1/finality.
    expect(finalityPolls).toBe(0);
    expect(await page.locator('#updated').textContent()).toMatch(/following 1 finality stream\(s\): 1 verified checkpoint/);

    const png = await page.screenshot({ fullPage: true });
    const file = join(tmpdir(), 'afg-dashboard.png');
    await writeFile(file, png);
    console.log(`dashboard screenshot: ${file} (${png.length} bytes)`);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    const m = await measure(page, png);
    expect(m.width).toBe(1200);
    expect(m.differing).toBeGreaterThan(0.05); // not a blank page
    expect(m.colours).toBeGreaterThan(20); // text, header, chart colours
    expect(m.header.every((c) => c < 60)).toBe(true); // the dark header band is drawn
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('shows all four regions in the legend of every chart, inside the chart', async () => {
    const names = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
    const servers = await Promise.all(
      names.map((region) =>
        startApiServer(
          createApi({
            query: new QueryService({ chain: fx.chain, region, blocks: fx.blocks, finality: fx.finality, applied: fx.applied }),
            transport: fx.transport,
            chain: fx.chain,
            maxLagBlocks: 8,
            dashboardHtml: html,
          }),
          { port: 0 },
        ),
      ),
    );
    try {
      const page = await open(`${servers[0]!.url}/?regions=${servers.map((s) => s.url).join(',')}`);
      await page.waitForFunction(() => Number(document.body.dataset.polls) >= 3, undefined, { timeout: 30_000 });
      for (const chart of ['chart-lag', 'chart-blocks']) {
        // Every region name is drawn as text whose box lies within the chart's box (not clipped, not outside).
        const placement = await page.getByTestId(chart).evaluate((root, regionNames) => {
          const box = root.getBoundingClientRect();
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          const found: Record<string, boolean> = {};
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const text = node.textContent ?? '';
            for (const name of regionNames) {
              const at = text.indexOf(name);
              if (at < 0) continue;
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + name.length);
              const r = range.getBoundingClientRect();
              const style = getComputedStyle(node.parentElement!);
              const inside = r.width > 0 && r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;
              found[name] = (found[name] ?? false) || (inside && style.visibility !== 'hidden' && style.display !== 'none');
            }
          }
          return found;
        }, names);
        expect(placement, chart).toEqual(Object.fromEntries(names.map((n) => [n, true])));
      }
      // A stream resumed across origins (Last-Event-ID is not a safelisted header) passes the CORS preflight.
      const resumed = await page.evaluate(async (url) => {
        const controller = new AbortController();
        const res = await fetch(url, { headers: { 'last-event-id': '0' }, signal: controller.signal });
        const type = res.headers.get('content-type');
        controller.abort();
        return { status: res.status, type };
      }, `${servers[1]!.url}/v1/finality/stream`);
      expect(resumed).toEqual({ status: 200, type: 'text/event-stream; charset=utf-8' });

      const png = await page.screenshot({ fullPage: true });
      const file = join(tmpdir(), 'afg-dashboard-four-regions.png');
      await writeFile(file, png);
      console.log(`four-region screenshot: ${file}`);
      expect(pageErrors).toEqual([]);
      await page.close();
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('a tampered certificate shows a verification failure next to an honest region (?regions=), and a down region', async () => {
    const closed = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), {
      port: 0,
    });
    await closed.close(); // its port now refuses connections
    const page = await open(`${honest.url}/?regions=${honest.url},${tampered.url},${closed.url}`);
    const bad = page.getByTestId('cert-us-east-1');
    await expect.poll(() => bad.textContent(), { timeout: 30_000 }).toContain('✗ verification failed');
    expect(await bad.textContent()).toContain('[certificate.signature] group signature does not verify');
    expect(await bad.getAttribute('class')).toBe('cert bad');
    await expect.poll(() => page.getByTestId('cert-eu-west-1').textContent(), { timeout: 30_000 }).toContain('verified ✓');
    // The tampered server is configured stricter (maxLagBlocks 2): its health is a 503 the page shows.
    await expect.poll(() => page.getByTestId('region-us-east-1').locator('td').nth(1).textContent()).toBe('degraded (503)');
    expect(await page.getByTestId('region-us-east-1').locator('td').nth(9).textContent()).toBe('n/a'); // no DLQ callback there
    await expect.poll(() => page.getByTestId(`region-${closed.url}`).textContent()).toMatch(/unreachable: /);
    expect(await page.getByTestId(`cert-${closed.url}`).textContent()).toMatch(/unreachable: /);
    const png = await page.screenshot({ fullPage: true });
    const file = join(tmpdir(), 'afg-dashboard-tampered.png');
    await writeFile(file, png);
    console.log(`tampered screenshot: ${file}`);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
