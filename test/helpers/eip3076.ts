/**
 * The 37 EIP-3076 interchange cases (../shared/vectors/eip3076, from eth-clients/slashing-protection-
 * interchange-tests v5.3.0) run against a slashing-protection store, mapped as the README there says:
 * each distinct pubkey is one member; source/target epochs are link heights; a signing root stands
 * for the vote's target (same root = same vote); the case's genesis_validators_root is the chain id.
 *
 * Each step imports its interchange the way `afg slashing-protection import` does (parse, minify,
 * mergeWatermark per member). Steps that contain slashable data are imported minified (the choice
 * lib/core/interchange.ts documents), so no case is cut short by a refusal of ours. Then every
 * attestation is attempted in order with the real rule and the real store: the pure watermark rule
 * (watermarkAllows on the stored watermark) and the store's conditional write must both say what
 * `should_succeed` says (minimal strategy; `should_succeed_complete` is for full-history databases).
 * `blocks` are skipped: afg validators sign no blocks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { fromHex } from '../../lib/core/bytes.js';
import { InputError } from '../../lib/core/errors.js';
import { minifyInterchange, parseInterchange } from '../../lib/core/interchange.js';
import { checkSlashing, watermarkAllows } from '../../lib/core/slashing.js';
import type { Link } from '../../lib/core/types.js';
import type { SlashingProtectionStore, WatermarkStore } from '../../lib/pipeline/ports.js';

const DIR = fileURLToPath(new URL('../../../shared/vectors/eip3076/', import.meta.url));

interface Attempt {
  pubkey: string;
  source_epoch: string;
  target_epoch: string;
  signing_root?: string;
  should_succeed: boolean;
}

export interface Eip3076Case {
  name: string;
  genesis_validators_root: string;
  steps: { should_succeed: boolean; contains_slashable_data: boolean; interchange: unknown; attestations: Attempt[] }[];
}

/** Every case file, by name. */
export function eip3076Cases(): Eip3076Case[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(DIR + f, 'utf8')) as Eip3076Case);
}

const bytes32 = (hex0x: string | undefined): Uint8Array => (hex0x === undefined ? new Uint8Array(32) : fromHex(hex0x.slice(2), 32, 'root'));

function linkOf(a: Attempt): Link {
  const zero = new Uint8Array(32);
  return {
    era: 0n,
    source: { height: Number(a.source_epoch), hash: zero, stateRoot: zero },
    target: { height: Number(a.target_epoch), hash: bytes32(a.signing_root), stateRoot: zero },
  };
}

/** What a run did, for the test name and the report. */
export interface CaseRun {
  steps: number;
  refusedImports: number;
  attempts: number;
}

/**
 * Runs one case against `store`, whose members from `firstMember` on must be fresh (several cases can
 * share one table this way); fails through vitest's expect on the first disagreement.
 */
export async function runEip3076Case(c: Eip3076Case, store: SlashingProtectionStore & WatermarkStore, firstMember = 1): Promise<CaseRun> {
  const chainId = bytes32(c.genesis_validators_root);
  const members = new Map<string, number>();
  const memberOf = (pubkey: string) => {
    const key = pubkey.toLowerCase().replace(/^0x/, '');
    if (!members.has(key)) members.set(key, firstMember + members.size);
    return members.get(key)!;
  };
  const run: CaseRun = { steps: 0, refusedImports: 0, attempts: 0 };
  for (const [i, step] of c.steps.entries()) {
    run.steps++;
    let floors: ReturnType<typeof minifyInterchange>;
    try {
      floors = minifyInterchange(parseInterchange(step.interchange), chainId);
    } catch (e) {
      expect(e, `step ${i}: refused with ${(e as Error).message}`).toBeInstanceOf(InputError);
      expect(step.should_succeed, `step ${i}: import refused (${(e as Error).message}) but should succeed`).toBe(false);
      run.refusedImports++;
      return run; // the suite's README: after a refused import the rest of the case is skipped
    }
    expect(step.should_succeed, `step ${i}: import succeeded but should fail`).toBe(true);
    for (const [pubkey, floor] of floors) if (floor) await store.mergeWatermark(memberOf(pubkey), floor);
    for (const [j, a] of step.attestations.entries()) {
      run.attempts++;
      const member = memberOf(a.pubkey);
      const link = linkOf(a);
      const what = `step ${i} attestation ${j}: ${a.source_epoch}->${a.target_epoch}`;
      expect(watermarkAllows(await store.watermark(member), link), `${what} (watermark rule)`).toBe(a.should_succeed);
      // The validator only ever builds links J -> J+K, so a link that does not go forward never reaches the store.
      const signed =
        checkSlashing([], link).kind !== 'invalid' && (await store.recordSignature(member, link, new Uint8Array(48))).kind === 'signed';
      expect(signed, `${what} (store)`).toBe(a.should_succeed);
    }
  }
  return run;
}
