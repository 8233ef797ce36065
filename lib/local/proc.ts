/**
 * Machine figures reported next to a load run: the load average and the CPU time of the processes
 * that do the work (this Node process, the DynamoDB Local JVM, the SQS emulator), each apart, so a
 * reader can tell which one saturates. CPU of other processes comes from /proc/<pid>/stat (Linux);
 * elsewhere those figures are null.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every mainstream Linux build (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, milliseconds) used so far by process `pid`, from /proc/<pid>/stat;
 * undefined when it cannot be read (not Linux, or the process has exited).
 */
export function processCpuMs(pid: number, readStat: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  let stat: string;
  try {
    stat = readStat(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name is parenthesised and may hold spaces; fields after it start at "state" (field 3),
  // so utime (field 14) and stime (field 15) are at offsets 11 and 12.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
}

/** Load average (1, 5, 15 minutes) at the start and at the end of a measurement. */
export interface LoadAverage {
  readonly start: readonly number[];
  readonly end: readonly number[];
}

/** CPU seconds per process over a measurement; null where the process was not ours or not readable. */
export interface CpuSeconds {
  /** This Node process: every region's roles and API, the event sources and the load generator. */
  readonly clusterProcess: number;
  readonly dynamodbLocal: number | null;
  readonly sqsEmulator: number | null;
}

export interface MachineFigures {
  readonly loadAverage: LoadAverage;
  readonly cpuSeconds: CpuSeconds;
  readonly cores: number;
}

/** Where the meter reads; injected in tests. */
export interface MachineProbe {
  loadavg(): number[];
  /** CPU ms of this process. */
  selfCpuMs(): number;
  processCpuMs(pid: number): number | undefined;
  cores: number;
}

const defaultProbe = (): MachineProbe => ({
  loadavg,
  selfCpuMs: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  processCpuMs: (pid) => processCpuMs(pid),
  cores: availableParallelism(),
});

/**
 * Starts measuring now; `read()` returns the figures since then. `pids` is called at both ends, so a
 * service restarted in between (new pid) reads as null rather than as a wrong difference.
 * @example const m = startMachineMeter(() => cluster.servicePids()); ...; const figures = m.read();
 */
export function startMachineMeter(
  pids: () => { dynamodbLocal?: number; sqsEmulator?: number },
  probe: MachineProbe = defaultProbe(),
): { read(): MachineFigures } {
  const startLoad = probe.loadavg();
  const startSelf = probe.selfCpuMs();
  const startPids = pids();
  const cpuAt = (pid: number | undefined) => (pid === undefined ? undefined : probe.processCpuMs(pid));
  const startDdb = cpuAt(startPids.dynamodbLocal);
  const startSqs = cpuAt(startPids.sqsEmulator);
  const since = (pidThen: number | undefined, pidNow: number | undefined, then: number | undefined): number | null => {
    if (pidThen === undefined || pidThen !== pidNow || then === undefined) return null;
    const now = cpuAt(pidNow);
    return now === undefined ? null : (now - then) / 1000;
  };
  return {
    read: () => {
      const now = pids();
      return {
        loadAverage: { start: startLoad, end: probe.loadavg() },
        cpuSeconds: {
          clusterProcess: (probe.selfCpuMs() - startSelf) / 1000,
          dynamodbLocal: since(startPids.dynamodbLocal, now.dynamodbLocal, startDdb),
          sqsEmulator: since(startPids.sqsEmulator, now.sqsEmulator, startSqs),
        },
        cores: probe.cores,
      };
    },
  };
}
