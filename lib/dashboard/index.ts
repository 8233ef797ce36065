/**
 * The operator dashboard: one self-contained HTML page for createApi's `dashboardHtml` (served at
 * GET /). The browser script (client.ts, with the stream client and verifier of lib/ and the
 * uPlot chart library from npm) is bundled with esbuild into a single inline script, and uPlot's
 * stylesheet inlined, when the page is first built: the page loads nothing but the region APIs it
 * follows, never a CDN.
 *
 * esbuild is a build tool: call dashboardHtml() where the sources are present (the local
 * cluster, tests, a CDK synth) and ship the resulting string, not this module, to Lambda.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { toHex } from '../core/bytes.js';
import { InputError } from '../core/errors.js';
import { type DashboardConfig, normalizeApiUrl } from './model.js';

export interface DashboardOptions {
  /**
   * API base URLs of every region to show, this one included (e.g. the local cluster's URLs).
   * Default: none, and the page polls the API that served it. A `?regions=url1,url2` query
   * string on the page overrides this list.
   */
  readonly peers?: readonly string[];
  /** Group public key to pin (96 bytes, or 192 hex characters); default: the page trusts /v1/validators. */
  readonly groupPublicKey?: Uint8Array | string;
  /** Poll period in milliseconds, 100..60000; default 2000. */
  readonly pollMs?: number;
  /** Polls kept in the charts, 2..1000; default 60. */
  readonly window?: number;
  /** Page title; default "afg dashboard". */
  readonly title?: string;
}

let scriptPromise: Promise<{ script: string; css: string }> | undefined;

/**
 * The browser script as one minified IIFE (client.ts and everything it imports, noble and uPlot
 * included) and uPlot's stylesheet. Built once per process and cached. Throws when esbuild or the
 * sources are missing (e.g. in a Lambda bundle) or the bundle fails.
 */
export function dashboardScript(): Promise<{ script: string; css: string }> {
  scriptPromise ??= bundle().catch((e) => {
    scriptPromise = undefined; // a failed build is retried on the next call
    throw e;
  });
  return scriptPromise;
}

async function bundle(): Promise<{ script: string; css: string }> {
  // Loaded on demand so that importing this module never drags esbuild into a Lambda bundle.
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./client.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error('dashboard: esbuild produced no output');
  const css = await readFile(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8');
  // Inside an inline <script>, "</script" would end the element; "<\/" is the same string to JS.
  // The stylesheet is the library's own (no url() or @import); "</" is refused so it cannot close <style>.
  if (css.includes('</')) throw new Error('dashboard: uPlot stylesheet contains "</"');
  return { script: file.text.replace(/<\/(script)/gi, '<\\/$1'), css };
}

/** Validates the options into the config the page reads. Throws InputError naming the option. */
export function dashboardConfig(opts: DashboardOptions = {}): DashboardConfig {
  const peers = (opts.peers ?? []).map((p, i) => {
    const url = normalizeApiUrl(p);
    if (!url) throw new InputError(`peers[${i}]`, `expected an http(s) URL without credentials, got ${JSON.stringify(p)}`);
    return url;
  });
  const pollMs = opts.pollMs ?? 2000;
  if (!Number.isInteger(pollMs) || pollMs < 100 || pollMs > 60_000) throw new InputError('pollMs', 'expected an integer in [100, 60000]');
  const window = opts.window ?? 60;
  if (!Number.isInteger(window) || window < 2 || window > 1000) throw new InputError('window', 'expected an integer in [2, 1000]');
  let groupPublicKey: string | undefined;
  if (opts.groupPublicKey !== undefined) {
    groupPublicKey = typeof opts.groupPublicKey === 'string' ? opts.groupPublicKey : toHex(opts.groupPublicKey);
    if (!/^[0-9a-f]{192}$/.test(groupPublicKey)) throw new InputError('groupPublicKey', 'expected 96 bytes (192 lowercase hex characters)');
  }
  return { peers, pollMs, window, ...(groupPublicKey ? { groupPublicKey } : {}) };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The dashboard page, ready for `createApi({ ..., dashboardHtml })`. Async because the script
 * is bundled on first use (about a second); later calls reuse the bundle.
 * Throws InputError for bad options, and what dashboardScript() throws.
 * @example const html = await dashboardHtml({ peers: cluster.urls, groupPublicKey: config.groupPublicKey });
 */
export async function dashboardHtml(opts: DashboardOptions = {}): Promise<string> {
  const config = dashboardConfig(opts);
  const { script, css } = await dashboardScript();
  const title = escapeHtml(opts.title ?? 'afg dashboard');
  // JSON in a data block is never executed; escaping "<" keeps it from closing the element.
  const configJson = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${css}${STYLE}</style>
</head>
<body>
<header><h1>${title}</h1><div id="chain" class="muted">loading validator set…</div><div id="updated" class="muted"></div></header>
<main>
<section><h2>Regions</h2><div id="regions">loading…</div></section>
<section><h2>Finality lag and throughput</h2><div id="charts" class="charts"></div></section>
<section><h2>Latest certificate, verified in this browser</h2><div id="certificates" class="certs"></div></section>
<section><h2>Validators</h2><div id="validators"></div></section>
<section><h2>Recent evidence</h2><div id="evidence"></div></section>
</main>
<script type="application/json" id="afg-config">${configJson}</script>
<script>${script}</script>
</body>
</html>
`;
}

const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; background: #f9fafb; }
body { margin: 0; }
header { background: #111827; color: #f9fafb; padding: 12px 20px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header .muted { color: #9ca3af; font-size: 13px; }
main { padding: 8px 20px 24px; }
h2 { font-size: 15px; margin: 18px 0 8px; color: #374151; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #e5e7eb; padding: 4px 10px; text-align: right; }
th { background: #f3f4f6; font-weight: 600; }
td:first-child, th:first-child, #regions td:nth-child(2), #regions th:nth-child(2) { text-align: left; }
.strong { font-weight: 700; }
.good { color: #15803d; }
.bad { color: #b91c1c; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.chart { background: #fff; border: 1px solid #e5e7eb; padding: 6px 6px 2px; width: 520px; }
.chart-title { font-size: 12px; font-weight: 600; color: #374151; margin: 0 0 2px 4px; }
.chart .u-legend { font-size: 12px; font-weight: 600; text-align: left; }
.muted { color: #6b7280; }
.certs { display: flex; flex-wrap: wrap; gap: 12px; }
.cert { background: #fff; border: 1px solid #e5e7eb; border-left: 4px solid #9ca3af; padding: 8px 12px; font-size: 13px; max-width: 640px; }
.cert.good { border-left-color: #16a34a; }
.cert.bad { border-left-color: #dc2626; }
.cert-region { font-weight: 700; margin-bottom: 2px; color: #111827; }
ul { font-size: 13px; padding-left: 18px; }
`;
