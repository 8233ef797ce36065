/** `afg transfer`: signs a transfer with a dev key (local chain only) and submits it. */
import { fromHex, toHex } from '../core/bytes.js';
import { devSecretKey } from '../core/chain.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import { signTransfer } from '../core/ledger.js';
import { transactionToJson } from '../core/wire.js';
import { type CliIo, EXIT, requestJson } from './io.js';
import { accountKeyOf } from './verify.js';

export interface TransferArgs {
  api: string;
  from: number;
  to: { index: number } | { key: Uint8Array };
  amount: bigint;
  nonce?: bigint;
}

/**
 * Signs for the chain the API reports (GET /v1/validators) and POSTs the transaction. Without
 * `nonce`, uses the sender's next nonce at the latest finalized state. Returns the exit code.
 */
export async function transferCommand(io: CliIo, args: TransferArgs): Promise<number> {
  const { body: set } = await requestJson(io, args.api, '/v1/validators');
  const chainId = fromHex(set.chainId, 32, 'validators.chainId');
  const secretKey = devSecretKey(args.from);
  const from = ed25519PublicKey(secretKey);
  let nonce = args.nonce;
  if (nonce === undefined) {
    const { body: account } = await requestJson(io, args.api, `/v1/accounts/${toHex(from)}`);
    nonce = BigInt(account.nonce);
    io.err(`nonce ${nonce} (next nonce at finalized height ${account.height}; pass --nonce when earlier transfers are still in flight)\n`);
  }
  const tx = signTransfer(chainId, secretKey, { to: accountKeyOf(args.to), amount: args.amount, nonce });
  const { body } = await requestJson(io, args.api, '/v1/transactions', { method: 'POST', body: transactionToJson(tx) });
  io.out(`accepted ${body.hash}\n   from dev ${args.from} ${toHex(from)}\n   to ${toHex(tx.to)}  amount ${tx.amount}  nonce ${tx.nonce}\n`);
  return EXIT.ok;
}
