/** `afg status <api-url>`: a one-screen summary of finality and sync health. */
import { type CliIo, EXIT, requestJson, short } from './io.js';

/** Prints the summary; returns 0 when the region reports status ok, 1 when degraded or down (the failing checks are listed). */
export async function statusCommand(io: CliIo, api: string): Promise<number> {
  const [{ body: f }, { body: h }] = await Promise.all([
    requestJson(io, api, '/v1/finality'),
    requestJson(io, api, '/v1/health', { accept: [503] }),
  ]);
  const c = f.certificate;
  const lines = [
    `region     ${f.region}  status ${h.status.toUpperCase()}`,
    ...(h.failing?.length ? [`failing    ${h.failing.join(', ')}`] : []),
    `head       ${f.head.height}  ${short(f.head.hash)}`,
    `justified  ${f.justified.height}  ${short(f.justified.hash)}`,
    `finalized  ${f.finalized.height}  ${short(f.finalized.hash)}  stateRoot ${short(f.finalized.stateRoot)}`,
    `           ${c ? `certificate ${c.source.height} -> ${c.target.height} by members ${c.signers.join(', ')}` : 'genesis (no certificate)'}`,
    `applied    ${f.applied.height}  stateRoot ${short(f.applied.stateRoot)}`,
    `lag        ${h.lag.blocks} blocks head->finalized, ${h.lag.appliedBehindFinalized} finalized->applied`,
    `evidence   ${h.evidence}`,
    'validators',
    ...h.validators.map(
      (v: { index: number; region: string; lastVoteHeight: number | null }) =>
        `  #${v.index} ${v.region}  last vote ${v.lastVoteHeight === null ? 'none recently' : `target ${v.lastVoteHeight}`}`,
    ),
  ];
  io.out(`${lines.join('\n')}\n`);
  return h.status === 'ok' ? EXIT.ok : EXIT.failed;
}
