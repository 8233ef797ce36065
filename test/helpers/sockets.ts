/**
 * The TCP sockets a process listens on, read from Linux's /proc (no `ss` or `lsof` needed): the
 * socket inodes among /proc/<pid>/fd, matched against the LISTEN rows of /proc/net/tcp and tcp6.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ListeningSocket {
  /** Dotted IPv4 or full IPv6 text (e.g. `127.0.0.1`, `::1`, `::ffff:127.0.0.1`, `0.0.0.0`, `::`). */
  readonly address: string;
  readonly port: number;
}

/** True where /proc exposes the socket tables (Linux). */
export const canReadSockets = (): boolean => existsSync('/proc/net/tcp') && existsSync('/proc/self/fd');

const TCP_LISTEN = '0A';

/** The addresses `pid` listens on (TCP, IPv4 and IPv6). Throws when the process is gone. */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // the descriptor closed while we listed them
    }
  }
  const out: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== TCP_LISTEN || !inodes.has(cols[9]!)) continue;
      const [hexAddress, hexPort] = cols[1]!.split(':') as [string, string];
      out.push({ address: decodeAddress(hexAddress), port: Number.parseInt(hexPort, 16) });
    }
  }
  return out;
}

/** /proc/net prints each 32-bit word of an address in host (little-endian) byte order. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  if (words.length === 1) return ipv4(words[0]!);
  const text = words
    .join('')
    .match(/.{4}/g)!
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':');
  // IPv4-mapped (::ffff:a.b.c.d) and the two short forms the assertions care about.
  if (/^(0:){5}ffff:/.test(text)) return `::ffff:${ipv4(words[3]!)}`;
  if (text === '0:0:0:0:0:0:0:1') return '::1';
  if (text === '0:0:0:0:0:0:0:0') return '::';
  return text;
}

const ipv4 = (bigEndianHex: string): string =>
  bigEndianHex
    .match(/../g)!
    .map((b) => Number.parseInt(b, 16))
    .join('.');

/** Loopback addresses: what "reachable from this machine only" allows. */
export const isLoopback = (address: string): boolean => /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address);
