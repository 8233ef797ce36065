/**
 * `afg watch <api-url>`: follows a region's finality stream and prints each finalized checkpoint
 * once its certificate verified (lib/client/watch.ts). The group key, chain id and interval come
 * from /v1/validators unless the group key is pinned with --group-key, which is what makes the
 * check trustless. Runs until interrupted, or until --count checkpoints were printed.
 */

import { WatchError, watchFinality } from '../client/watch.js';
import { equalBytes, fromHex } from '../core/bytes.js';
import { CliFailure, type CliIo, EXIT, requestJson, short } from './io.js';

export interface WatchArgs {
  api: string;
  /** Resume after this height; default: start with the current finalized checkpoint. */
  from?: number;
  groupKey?: Uint8Array;
  /** Stop after this many checkpoints. */
  count?: number;
  /** One JSON object per line (the verified checkpoint answer) instead of a summary line. */
  json?: boolean;
  /** Ends the watch (exit 0). */
  signal?: AbortSignal;
}

/**
 * Prints verified checkpoints as they arrive. Returns 0 when stopped (--count reached or
 * signal); throws CliFailure (exit 1) when the stream breaks a rule (gap, repeat, bad
 * certificate) or the server cannot be reached.
 */
export async function watchCommand(io: CliIo, args: WatchArgs): Promise<number> {
  const { body: set } = await requestJson(io, args.api, '/v1/validators');
  const serverKey = fromHex(set.groupPublicKey, 96, 'validators.groupPublicKey');
  if (!args.groupKey)
    io.err('note: using the group key the server reports; pin it with --group-key <hex> to verify without trusting the server\n');
  else if (!equalBytes(args.groupKey, serverKey)) io.err('note: the server reports a different group key than the pinned one\n');
  const stop = new AbortController();
  const signal = args.signal ? AbortSignal.any([args.signal, stop.signal]) : stop.signal;
  let printed = 0;
  try {
    for await (const c of watchFinality(args.api, {
      groupPublicKey: args.groupKey ?? serverKey,
      chainId: fromHex(set.chainId, 32, 'validators.chainId'),
      checkpointInterval: set.checkpointInterval,
      threshold: set.threshold,
      ...(args.from !== undefined ? { from: args.from } : {}),
      signal,
      fetch: io.fetch,
      onReconnect: (r) => io.err(`reconnecting in ${r.delayMs} ms (${r.reason}); resuming after height ${r.after ?? 'the current head'}\n`),
    })) {
      const cert = c.certificate;
      io.out(
        args.json
          ? `${JSON.stringify(c)}\n`
          : `finalized ${c.height}  hash ${short(c.hash)}  stateRoot ${short(c.stateRoot)}  ` +
              `certificate ${cert.source.height} -> ${cert.target.height} by members ${cert.signers.join(', ')} ✓\n`,
      );
      if (++printed === args.count) stop.abort();
    }
  } catch (e) {
    if (e instanceof WatchError) throw new CliFailure(`${args.api}: ${e.code}: ${e.message}`);
    throw e;
  }
  return EXIT.ok;
}
