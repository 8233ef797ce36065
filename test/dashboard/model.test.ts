import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.js';
import { dashboardConfig, dashboardHtml } from '../../lib/dashboard/index.js';
import { chartGeometry, niceMax, normalizeApiUrl, pushSample, ratePerSecond, regionUrls, shortHex } from '../../lib/dashboard/model.js';

describe('region URLs', () => {
  it('normalizes http(s) URLs and refuses other schemes and credentials', () => {
    expect(normalizeApiUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(normalizeApiUrl(' https://api.example/prod/?x=1#y ')).toBe('https://api.example/prod');
    expect(normalizeApiUrl('/', 'http://a:1/index')).toBe('http://a:1');
    for (const bad of ['javascript:alert(1)', 'file:///etc/passwd', 'http://user:pw@a/', 'not a url', 'data:text/html,x'])
      expect(normalizeApiUrl(bad), bad).toBeUndefined();
  });

  it('?regions= overrides the inlined peers; invalid entries are dropped; the own API is the fallback', () => {
    const self = 'http://127.0.0.1:9000/';
    expect(regionUrls('', ['http://a:1', 'http://b:2/'], self)).toEqual(['http://a:1', 'http://b:2']);
    expect(regionUrls('?regions=http://c:3,javascript:x,http://c:3/', ['http://a:1'], self)).toEqual(['http://c:3']);
    expect(regionUrls('', [], self)).toEqual(['http://127.0.0.1:9000']);
    expect(regionUrls('?regions=javascript:x', ['http://a:1'], self)).toEqual(['http://127.0.0.1:9000']);
  });
});

describe('series and rates', () => {
  it('pushSample keeps the newest `max` samples in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 50 }), fc.integer({ min: 1, max: 20 }), (values, max) => {
        let s: { t: number; v: number }[] = [];
        values.forEach((v, t) => {
          s = pushSample(s, { t, v }, max);
        });
        expect(s.map((x) => x.v)).toEqual(values.slice(-max));
      }),
    );
  });

  it('ratePerSecond: counter delta over elapsed time; unknown without history, elapsed time or on a reset', () => {
    expect(ratePerSecond({ t: 1000, v: 10 }, { t: 3000, v: 50 })).toBe(20);
    expect(ratePerSecond(undefined, { t: 3000, v: 50 })).toBeUndefined();
    expect(ratePerSecond({ t: 3000, v: 10 }, { t: 3000, v: 50 })).toBeUndefined();
    expect(ratePerSecond({ t: 1000, v: 60 }, { t: 3000, v: 50 })).toBeUndefined();
  });

  it('niceMax is the least of 1, 2, 5 x 10^k at or above the value', () => {
    expect([0, 0.5, 1, 1.5, 3, 7, 10, 11, 230].map(niceMax)).toEqual([1, 1, 1, 2, 5, 10, 10, 20, 500]);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), (v) => {
        const m = niceMax(v);
        expect(m).toBeGreaterThanOrEqual(v);
        expect(m).toBeLessThanOrEqual(Math.max(1, 5 * v));
      }),
    );
  });
});

describe('chart geometry', () => {
  const box = { width: 200, height: 100, pad: { left: 20, right: 10, top: 10, bottom: 10 } };

  it('maps the newest sample to the right edge, 0 to the bottom and yMax to the top', () => {
    const g = chartGeometry(
      {
        a: [
          { t: 0, v: 0 },
          { t: 500, v: 5 },
          { t: 1000, v: 10 },
        ],
      },
      box,
      1000,
    );
    expect(g.yMax).toBe(10);
    expect(g.lines).toEqual([{ name: 'a', points: '20,90 105,50 190,10', last: 10, end: { x: 190, y: 10 } }]);
  });

  it('drops samples older than the span and keeps every point inside the box', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 10_000 }), v: fc.double({ min: 0, max: 1e6, noNaN: true }) }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5000 }),
        (samples, span) => {
          const sorted = [...samples].sort((x, y) => x.t - y.t);
          const g = chartGeometry({ s: sorted }, box, span);
          const pts = g.lines[0]!.points ? g.lines[0]!.points.split(' ') : [];
          const tMax = sorted.at(-1)?.t ?? 0;
          expect(pts.length).toBe(sorted.filter((s) => s.t >= tMax - span).length);
          for (const p of pts) {
            const [x, y] = p.split(',').map(Number) as [number, number];
            expect(x).toBeGreaterThanOrEqual(box.pad.left);
            expect(x).toBeLessThanOrEqual(box.width - box.pad.right);
            expect(y).toBeGreaterThanOrEqual(box.pad.top);
            expect(y).toBeLessThanOrEqual(box.height - box.pad.bottom);
          }
        },
      ),
    );
  });

  it('an empty series has no points', () => {
    expect(chartGeometry({ a: [] }, box, 1000).lines).toEqual([{ name: 'a', points: '', last: undefined, end: undefined }]);
  });
});

describe('page options and markup', () => {
  it('validates options, naming the field', () => {
    expect(dashboardConfig({ peers: ['http://a:1/'], pollMs: 500 })).toEqual({ peers: ['http://a:1'], pollMs: 500, window: 60 });
    expect(() => dashboardConfig({ peers: ['ftp://a'] })).toThrow(/^peers\[0\]/);
    expect(() => dashboardConfig({ pollMs: 5 })).toThrow(InputError);
    expect(() => dashboardConfig({ window: 1 })).toThrow(/^window/);
    expect(() => dashboardConfig({ groupPublicKey: 'abcd' })).toThrow(/^groupPublicKey/);
    expect(dashboardConfig({ groupPublicKey: new Uint8Array(96).fill(1) }).groupPublicKey).toBe('01'.repeat(96));
  });

  it('is one self-contained document: inline script, no external resources, config that cannot close its element', async () => {
    const html = await dashboardHtml({ peers: ['http://a:1'], title: '<b>x</b>' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<script[^>]+src=|<link[^>]+href=|<img|<iframe/i)).toBeNull();
    expect(/<style>([\s\S]*?)<\/style>/.exec(html)![1]!.match(/@import|url\(/i)).toBeNull();
    // The only URLs are the inlined peer and the SVG namespace (an identifier, never fetched).
    expect(new Set(html.match(/https?:\/\/[^\s"'`)]+/g))).toEqual(new Set(['http://a:1', 'http://www.w3.org/2000/svg']));
    expect(html.includes('<title>&lt;b&gt;x&lt;/b&gt;</title>')).toBe(true);
    // Exactly the two script elements we wrote: the bundle never closes its element early.
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    const config = /<script type="application\/json" id="afg-config">(.*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(config)).toEqual({ peers: ['http://a:1'], pollMs: 2000, window: 60 });
    expect(shortHex('0123456789abcdef0123')).toBe('01234567…cdef0123');
  });
});
