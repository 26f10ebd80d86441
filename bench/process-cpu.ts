// CPU time of processes, from /proc (Linux): where the time of many small batches goes when
// the server, Postgres and the clients share the same cores.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of one process (0 when it has ended). */
function cpuOfPid(pid: string | number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of the Postgres backends connected to `databaseName`. */
function backendsCpu(databaseName: string): number {
  let seconds = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // A backend's title: "postgres: <user> <database> <host>(<port>) <state>".
    if (commandLine.startsWith('postgres: ') && commandLine.split(' ')[2] === databaseName) seconds += cpuOfPid(pid);
  }
  return seconds;
}

export interface CpuPerBatch {
  server: number;
  postgres: number;
  clients: number;
}

/**
 * CPU milliseconds per batch of the server, of the database's backends and of this process
 * (the clients) while `work` runs; `work` resolves with how many batches it sent. Backends
 * that end during the work are not counted (a pool keeps its connections).
 */
export async function cpuPerBatch(serverPid: number, databaseName: string, work: () => Promise<number>): Promise<CpuPerBatch> {
  const before = { server: cpuOfPid(serverPid), postgres: backendsCpu(databaseName), clients: process.cpuUsage() };
  const batches = await work();
  const own = process.cpuUsage(before.clients);
  const per = (seconds: number) => (seconds * 1000) / batches;
  return {
    server: per(cpuOfPid(serverPid) - before.server),
    postgres: per(backendsCpu(databaseName) - before.postgres),
    clients: per((own.user + own.system) / 1e6),
  };
}
