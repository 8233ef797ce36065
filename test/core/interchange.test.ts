import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { InputError } from '../../lib/core/errors.js';
import {
  exportInterchange,
  type InterchangeJson,
  mergeWatermarks,
  minifyInterchange,
  parseInterchange,
  voteSigningRoot,
} from '../../lib/core/interchange.js';
import { isDoubleVote, isSurroundVote, type Watermark, watermarkAllows } from '../../lib/core/slashing.js';
import type { Link } from '../../lib/core/types.js';
import { MemorySlashingProtectionStore } from '../../lib/pipeline/memory.js';
import { cp } from '../helpers/checkpoints.js';
import { eip3076Cases, runEip3076Case } from '../helpers/eip3076.js';

const CHAIN = new Uint8Array(32).fill(7);
const CHAIN_HEX = `0x${toHex(CHAIN)}`;
const PUBKEY = new Uint8Array(96).fill(0xab);
const wm = (s: number, t: number): Watermark => ({ lastSourceHeight: s, lastTargetHeight: t });
const link = (s: number, t: number, fork = 0): Link => ({ era: 0n, source: cp(s), target: cp(t, fork) });

/** The EIP's example document (an Ethereum 48-byte key: pubkeys are opaque ids on import). */
const example = () => ({
  metadata: { interchange_format_version: '5', genesis_validators_root: CHAIN_HEX },
  data: [
    {
      pubkey: '0xB845089A1457f811bfc000588fbb4e713669be8ce060ea6be3c6ece09afc3794106c91ca73acda5e5457122d58723bed',
      signed_blocks: [{ slot: '81952', signing_root: `0x${'4f'.repeat(32)}` }, { slot: '81951' }],
      signed_attestations: [
        { source_epoch: '2290', target_epoch: '3007', signing_root: `0x${'58'.repeat(32)}` },
        { source_epoch: '2290', target_epoch: '3008' },
      ],
    },
  ],
});

describe('parseInterchange', () => {
  it('reads the EIP example: lowercase pubkey without 0x, heights as numbers, optional signing roots', () => {
    const doc = parseInterchange(example());
    expect(doc.genesisValidatorsRoot).toEqual(CHAIN);
    expect(doc.data).toHaveLength(1);
    const r = doc.data[0]!;
    expect(r.pubkey).toBe('b845089a1457f811bfc000588fbb4e713669be8ce060ea6be3c6ece09afc3794106c91ca73acda5e5457122d58723bed');
    expect(r.signedBlocks).toEqual([{ slot: 81952n, signingRoot: new Uint8Array(32).fill(0x4f) }, { slot: 81951n }]);
    expect(r.signedAttestations).toEqual([
      { sourceEpoch: 2290, targetEpoch: 3007, signingRoot: new Uint8Array(32).fill(0x58) },
      { sourceEpoch: 2290, targetEpoch: 3008 },
    ]);
  });

  it('ignores fields the schema does not name (the EIP schema allows them)', () => {
    const doc = { ...example(), comment: 'exported by hand', metadata: { ...example().metadata, client: 'x' } };
    expect(parseInterchange(doc).data).toHaveLength(1);
  });

  type Doc = ReturnType<typeof example>;
  const malformed: { name: string; edit: (d: Doc) => unknown; path: string; reason: RegExp }[] = [
    { name: 'not an object', edit: () => [], path: 'interchange', reason: /expected an object/ },
    { name: 'no metadata', edit: ({ metadata: _, ...d }) => d, path: 'interchange.metadata', reason: /missing/ },
    { name: 'no data', edit: ({ data: _, ...d }) => d, path: 'interchange.data', reason: /missing/ },
    {
      name: 'another format version',
      edit: (d) => ({ ...d, metadata: { ...d.metadata, interchange_format_version: '4' } }),
      path: 'metadata.interchange_format_version',
      reason: /expected "5".*got "4"/,
    },
    {
      name: 'the version as a number',
      edit: (d) => ({ ...d, metadata: { ...d.metadata, interchange_format_version: 5 } }),
      path: 'metadata.interchange_format_version',
      reason: /got 5/,
    },
    {
      name: 'a short genesis_validators_root',
      edit: (d) => ({ ...d, metadata: { ...d.metadata, genesis_validators_root: '0xabcd' } }),
      path: 'metadata.genesis_validators_root',
      reason: /expected 32 bytes/,
    },
    {
      name: 'genesis_validators_root without 0x',
      edit: (d) => ({ ...d, metadata: { ...d.metadata, genesis_validators_root: toHex(CHAIN) } }),
      path: 'metadata.genesis_validators_root',
      reason: /0x-prefixed hex/,
    },
    { name: 'data not an array', edit: (d) => ({ ...d, data: {} }), path: 'data', reason: /expected an array/ },
    { name: 'an entry not an object', edit: (d) => ({ ...d, data: [null] }), path: 'data[0]', reason: /expected an object/ },
    {
      name: 'a pubkey that is not hex',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], pubkey: '0xnothex' }] }),
      path: 'data[0].pubkey',
      reason: /0x-prefixed hex/,
    },
    {
      name: 'an entry without signed_blocks',
      edit: (d) => ({ ...d, data: [{ pubkey: d.data[0]!.pubkey, signed_attestations: [] }] }),
      path: 'data[0].signed_blocks',
      reason: /missing/,
    },
    {
      name: 'a negative slot',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], signed_blocks: [{ slot: '-1' }] }] }),
      path: 'data[0].signed_blocks[0].slot',
      reason: /decimal string/,
    },
    {
      name: 'an epoch as a JSON number',
      edit: (d) => ({ ...d, data: [d.data[0], { ...d.data[0], signed_attestations: [{ source_epoch: 1, target_epoch: '2' }] }] }),
      path: 'data[1].signed_attestations[0].source_epoch',
      reason: /decimal string/,
    },
    {
      name: 'an epoch with a leading zero',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], signed_attestations: [{ source_epoch: '1', target_epoch: '02' }] }] }),
      path: 'data[0].signed_attestations[0].target_epoch',
      reason: /leading zeros/,
    },
    {
      name: 'an epoch above u64',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], signed_attestations: [{ source_epoch: '1', target_epoch: '18446744073709551616' }] }] }),
      path: 'data[0].signed_attestations[0].target_epoch',
      reason: /exceeds u64/,
    },
    {
      name: 'an epoch above the highest height afg holds',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], signed_attestations: [{ source_epoch: '1', target_epoch: '9007199254740992' }] }] }),
      path: 'data[0].signed_attestations[0].target_epoch',
      reason: /highest height afg supports/,
    },
    {
      name: 'an attestation without target_epoch',
      edit: (d) => ({ ...d, data: [{ ...d.data[0], signed_attestations: [{ source_epoch: '1' }] }] }),
      path: 'data[0].signed_attestations[0].target_epoch',
      reason: /missing/,
    },
    {
      name: 'a signing root of 31 bytes',
      edit: (d) => ({
        ...d,
        data: [{ ...d.data[0], signed_attestations: [{ source_epoch: '1', target_epoch: '2', signing_root: `0x${'00'.repeat(31)}` }] }],
      }),
      path: 'data[0].signed_attestations[0].signing_root',
      reason: /expected 32 bytes/,
    },
  ];
  for (const m of malformed)
    it(`refuses ${m.name}, naming ${m.path}`, () => {
      const run = () => parseInterchange(m.edit(example()));
      expect(run).toThrow(InputError);
      expect(run).toThrow(new RegExp(`^${m.path.replace(/[[\].]/g, '\\$&')}: .*${m.reason.source}`));
    });
});

describe('minifyInterchange', () => {
  it("takes each pubkey's maximum source and maximum target, merging repeated entries", () => {
    const doc = parseInterchange({
      metadata: { interchange_format_version: '5', genesis_validators_root: CHAIN_HEX },
      data: [
        { pubkey: '0xaa', signed_blocks: [], signed_attestations: [{ source_epoch: '9', target_epoch: '10' }] },
        { pubkey: '0xbb', signed_blocks: [{ slot: '3' }], signed_attestations: [] },
        {
          pubkey: '0xAA',
          signed_blocks: [],
          signed_attestations: [
            { source_epoch: '2', target_epoch: '30' },
            { source_epoch: '12', target_epoch: '7' }, // source above target: kept as a maximum all the same
          ],
        },
      ],
    });
    expect(minifyInterchange(doc, CHAIN)).toEqual(
      new Map([
        ['aa', wm(12, 30)],
        ['bb', undefined],
      ]),
    );
  });

  it("refuses another chain's interchange, naming genesis_validators_root", () => {
    const doc = parseInterchange(example());
    expect(() => minifyInterchange(doc, new Uint8Array(32))).toThrow(/^metadata\.genesis_validators_root: 0x0707.* is another chain/);
  });

  // The safety property of minimal import: whatever the imported history (slashable within itself or
  // not, sources above targets included), the merged watermark lets nothing through that would be a
  // double or surround vote against any imported attestation.
  it('property: after import, every link the watermark allows is safe against every imported attestation', () => {
    const att = fc.record({ s: fc.nat(20), t: fc.nat(20), fork: fc.nat(3) });
    fc.assert(
      fc.property(
        fc.array(att, { minLength: 1, maxLength: 8 }),
        fc.option(fc.record({ s: fc.nat(20), t: fc.nat(20) })),
        att,
        (atts, stored, next) => {
          const doc = parseInterchange({
            metadata: { interchange_format_version: '5', genesis_validators_root: CHAIN_HEX },
            data: [
              {
                pubkey: '0x01',
                signed_blocks: [],
                signed_attestations: atts.map((a) => ({ source_epoch: String(a.s), target_epoch: String(a.t) })),
              },
            ],
          });
          const floor = minifyInterchange(doc, CHAIN).get('01')!;
          const merged = mergeWatermarks(stored === null ? undefined : wm(stored.s, stored.t), floor);
          const candidate = link(next.s, next.t, 9); // another block than any imported one
          if (!watermarkAllows(merged, candidate)) return;
          for (const a of atts) {
            const imported = link(a.s, a.t, a.fork);
            expect(isDoubleVote(imported, candidate) || isSurroundVote(imported, candidate)).toBe(false);
          }
        },
      ),
    );
  });

  it('property: merging is the pointwise maximum (never lowers, order does not matter)', () => {
    const w = fc.record({ lastSourceHeight: fc.nat(1000), lastTargetHeight: fc.nat(1000) });
    fc.assert(
      fc.property(w, w, (a, b) => {
        const m = mergeWatermarks(a, b);
        expect(m).toEqual(mergeWatermarks(b, a));
        expect(m.lastSourceHeight).toBeGreaterThanOrEqual(Math.max(a.lastSourceHeight, b.lastSourceHeight));
        expect(m.lastTargetHeight).toBeGreaterThanOrEqual(Math.max(a.lastTargetHeight, b.lastTargetHeight));
        expect(mergeWatermarks(m, a)).toEqual(m);
      }),
    );
  });
});

describe('exportInterchange', () => {
  const meta = { interchange_format_version: '5', genesis_validators_root: CHAIN_HEX };
  const pubkey = `0x${toHex(PUBKEY)}`;

  it('a member that signed nothing exports an empty history', () => {
    expect(exportInterchange({ chainId: CHAIN, pubkey: PUBKEY })).toEqual({
      metadata: meta,
      data: [{ pubkey, signed_blocks: [], signed_attestations: [] }],
    });
  });

  it('the last signed link carries its signing root: sha256 of the 195 vote signing bytes', () => {
    const last = link(4, 5);
    const doc = exportInterchange({ chainId: CHAIN, pubkey: PUBKEY, watermark: wm(4, 5), last });
    const root = sha256(voteSigningBytes(CHAIN, last));
    expect(voteSigningRoot(CHAIN, last)).toEqual(root);
    expect(doc.data[0]!.signed_attestations).toEqual([{ source_epoch: '4', target_epoch: '5', signing_root: `0x${toHex(root)}` }]);
  });

  it('a watermark an import raised above the last link exports the maxima, with no signing root', () => {
    const doc = exportInterchange({ chainId: CHAIN, pubkey: PUBKEY, watermark: wm(7, 5), last: link(4, 5) });
    expect(doc.data[0]!.signed_attestations).toEqual([{ source_epoch: '7', target_epoch: '5' }]);
    const imported = exportInterchange({ chainId: CHAIN, pubkey: PUBKEY, watermark: wm(3, 9) });
    expect(imported.data[0]!.signed_attestations).toEqual([{ source_epoch: '3', target_epoch: '9' }]);
  });

  it('property: export, JSON text, parse and minify give back the watermark', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.nat(1_000_000), fc.boolean(), (s, d, withLink) => {
        const w = wm(s, s + d);
        const last = withLink ? link(s, s + d) : undefined;
        const text = JSON.stringify(exportInterchange({ chainId: CHAIN, pubkey: PUBKEY, watermark: w, ...(last ? { last } : {}) }));
        const back = minifyInterchange(parseInterchange(JSON.parse(text) as InterchangeJson), CHAIN);
        expect(back).toEqual(new Map([[toHex(PUBKEY), w]]));
      }),
    );
  });
});

describe('EIP-3076 interchange test suite (memory store)', () => {
  const cases = eip3076Cases();
  // The vectors README speaks of 37 cases; the folder holds 38 files with distinct names, all run here.
  it('finds every case file', () => {
    expect(cases).toHaveLength(38);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });
  for (const c of cases)
    it(c.name, async () => {
      const run = await runEip3076Case(c, new MemorySlashingProtectionStore());
      // Slashable steps are imported minified, so the only refused import is the other chain's.
      expect(run.refusedImports).toBe(c.name === 'wrong_genesis_validators_root' ? 1 : 0);
    });
});
