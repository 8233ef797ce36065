/**
 * `afg verify <api-url> <account>`: fetches an account answer and checks it the way a browser
 * client would (lib/core/verifier.ts). The group key, chain id and interval come from
 * /v1/validators unless pinned with flags; a pinned group key is what makes the check trustless.
 */
import { equalBytes, fromHex, toHex } from '../core/bytes.js';
import { devSecretKey } from '../core/chain.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import { verifyAccountAnswer } from '../core/verifier.js';
import { type CliIo, EXIT, requestJson, short } from './io.js';

export interface VerifyArgs {
  api: string;
  account: { index: number } | { key: Uint8Array };
  groupKey?: Uint8Array;
  chainId?: Uint8Array;
  interval?: number;
}

export const accountKeyOf = (a: VerifyArgs['account']): Uint8Array => ('key' in a ? a.key : ed25519PublicKey(devSecretKey(a.index)));

/** Runs the check and prints the verdict. Returns the exit code (0 verified, 1 not). */
export async function verifyCommand(io: CliIo, args: VerifyArgs): Promise<number> {
  const { body: set } = await requestJson(io, args.api, '/v1/validators');
  const serverKey = fromHex(set.groupPublicKey, 96, 'validators.groupPublicKey');
  const groupPublicKey = args.groupKey ?? serverKey;
  if (!args.groupKey)
    io.err('note: using the group key the server reports; pin it with --group-key <hex> to verify without trusting the server\n');
  else if (!equalBytes(args.groupKey, serverKey)) io.err('note: the server reports a different group key than the pinned one\n');
  const opts = {
    groupPublicKey,
    chainId: args.chainId ?? fromHex(set.chainId, 32, 'validators.chainId'),
    checkpointInterval: args.interval ?? set.checkpointInterval,
    threshold: set.threshold,
  };
  const account = toHex(accountKeyOf(args.account));
  const { body: answer } = await requestJson(io, args.api, `/v1/accounts/${account}`);
  const v = verifyAccountAnswer(answer, opts);
  if (v.ok) {
    const c = v.certificate;
    io.out(
      `OK account ${account}\n` +
        `   balance ${v.balance}  nonce ${v.nonce}\n` +
        `   finalized height ${v.height}  stateRoot ${short(v.stateRoot)}\n` +
        `   certificate ${c.source.height} -> ${c.target.height} signed by members ${c.signers.join(', ')} ` +
        `(group key ${args.groupKey ? 'pinned' : 'from server'})\n`,
    );
    return EXIT.ok;
  }
  io.out(`FAILED account ${account}: the answer does not verify\n`);
  for (const f of v.failures) io.out(`   [${f.check}] ${f.message}\n`);
  return EXIT.failed;
}
