/**
 * lib/core/bls.ts with memoized certify / verifySignature / signShare (see crypto-memo.ts). Only
 * loaded through installCryptoMemo()'s resolve hook, in place of lib/core/bls.ts.
 */
import * as real from '../core/bls.js';
import { memoizeBls } from './crypto-memo.js';

export * from '../core/bls.js';

const memo = memoizeBls(real);
export const certify = memo.certify;
export const verifySignature = memo.verifySignature;
export const signShare = memo.signShare;
