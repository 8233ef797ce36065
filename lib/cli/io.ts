/**
 * What CLI commands share: output sinks (injectable for tests), typed failures with exit codes,
 * argument parsers whose messages commander prefixes with the flag name, and a JSON fetch helper
 * that turns network and API errors into one-line messages.
 */
import { InvalidArgumentError } from 'commander';
import { fromHex, parseU64Decimal } from '../core/bytes.js';
import { DEV_ACCOUNT_COUNT } from '../core/chain.js';

export interface CliIo {
  /** Standard output: results. */
  out(text: string): void;
  /** Standard error: progress and errors. */
  err(text: string): void;
  fetch: typeof fetch;
}

export const processIo = (): CliIo => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  fetch: (...args) => fetch(...args),
});

/** Exit codes: 0 success, 1 the operation failed (verification, server, network), 2 bad usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A bad argument found after parsing (e.g. threshold above members). `flag` names it. */
export class UsageError extends Error {
  constructor(
    readonly flag: string,
    reason: string,
  ) {
    super(`${flag}: ${reason}`);
    this.name = 'UsageError';
  }
}

/** The operation failed (exit 1); the message is printed as is. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** Parser for an integer option in [min, max]. */
export const intArg =
  (min: number, max: number) =>
  (value: string): number => {
    if (!/^(0|[1-9][0-9]*)$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    return Number(value);
  };

export const u64Arg = (value: string): bigint => {
  try {
    return parseU64Decimal(value, 'value');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^value: /, ''));
  }
};

export const hexArg =
  (bytes: number) =>
  (value: string): Uint8Array => {
    try {
      return fromHex(value.toLowerCase(), bytes, 'value');
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message.replace(/^value: /, ''));
    }
  };

export const devIndexArg = intArg(0, DEV_ACCOUNT_COUNT - 1);

/** An account: 64 hex characters, or a dev account index 0-9. */
export const accountArg = (value: string): { index: number } | { key: Uint8Array } => {
  if (/^[0-9]$/.test(value)) return { index: Number(value) };
  try {
    return { key: fromHex(value.toLowerCase(), 32, 'value') };
  } catch {
    throw new InvalidArgumentError(`expected a 32-byte public key as 64 hex characters, or a dev account index 0-${DEV_ACCOUNT_COUNT - 1}`);
  }
};

/** An http(s) base URL, without trailing slash. */
export const urlArg = (value: string): string => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an http(s) URL such as http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http(s) URL');
  return value.replace(/\/+$/, '');
};

/** The largest response body the CLI reads (1 MiB): an account answer with its proof is a few KB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Reads `res`'s body as text, refusing (CliFailure) one larger than `limit` bytes: a declared
 * content length is refused before reading, and an undeclared (chunked) or understated one is cut
 * off as soon as it passes the limit, so a hostile server cannot make the CLI buffer without bound.
 */
export async function readCappedText(res: Response, url: string, limit = MAX_RESPONSE_BYTES): Promise<string> {
  const tooBig = () => new CliFailure(`${url}: response body exceeds ${limit / (1024 * 1024)} MiB (${limit} bytes); refused`);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw tooBig();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooBig();
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * GET or POST JSON at `base + path`. Returns the status and parsed body for 2xx and for the
 * statuses in `accept`; anything else throws CliFailure with the server's error message, as does
 * a body over MAX_RESPONSE_BYTES.
 */
export async function requestJson(
  io: CliIo,
  base: string,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown; accept?: number[] } = {},
): Promise<{ status: number; body: any }> {
  const url = `${base}${path}`;
  let res: Response;
  try {
    res = await io.fetch(url, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new CliFailure(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  const text = await readCappedText(res, url);
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliFailure(`${url} answered ${res.status} with a body that is not JSON`);
  }
  if (res.ok || init.accept?.includes(res.status)) return { status: res.status, body };
  const e = body?.error;
  throw new CliFailure(`${url} answered ${res.status}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? text.slice(0, 200)}`);
}

export const short = (hex: string) => (hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);
