import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.js';
import { dashboardConfig, dashboardHtml } from '../../lib/dashboard/index.js';
import { alignSeries, normalizeApiUrl, pushSample, ratePerSecond, regionUrls, shortHex } from '../../lib/dashboard/model.js';

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
});

describe('chart columns', () => {
  it('aligns series on the union of their times, with null where a series has no sample', () => {
    expect(
      alignSeries({
        a: [
          { t: 1, v: 5 },
          { t: 3, v: 6 },
        ],
        b: [{ t: 2, v: 7 }],
        c: [],
      }),
    ).toEqual({
      xs: [1, 2, 3],
      ys: [
        [5, null, 6],
        [null, 7, null],
        [null, null, null],
      ],
    });
  });

  it('keeps every sample exactly once, in time order (property)', () => {
    const series = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 4 }),
      fc.uniqueArray(fc.record({ t: fc.integer({ min: 0, max: 1000 }), v: fc.integer() }), { selector: (s) => s.t, maxLength: 20 }),
    );
    fc.assert(
      fc.property(series, (input) => {
        const { xs, ys } = alignSeries(input);
        expect([...xs].sort((a, b) => a - b)).toEqual(xs);
        expect(new Set(xs).size).toBe(xs.length);
        Object.values(input).forEach((samples, i) => {
          expect(ys[i]!.filter((v) => v !== null)).toHaveLength(samples.length);
          for (const s of samples) expect(ys[i]![xs.indexOf(s.t)]).toBe(s.v);
        });
      }),
    );
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
    // The only URLs are the inlined peer and namespace identifiers of the chart library (never fetched).
    const urls = new Set(html.match(/https?:\/\/[^\s"'`)]+/g));
    urls.delete('http://a:1');
    for (const u of urls) expect(u).toMatch(/^http:\/\/www\.w3\.org\//);
    expect(html.includes('<title>&lt;b&gt;x&lt;/b&gt;</title>')).toBe(true);
    // Exactly the two script elements we wrote: the bundle never closes its element early.
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    const config = /<script type="application\/json" id="afg-config">(.*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(config)).toEqual({ peers: ['http://a:1'], pollMs: 2000, window: 60 });
    expect(shortHex('0123456789abcdef0123')).toBe('01234567…cdef0123');
  });
});
