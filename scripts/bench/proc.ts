/**
 * CPU time of a process tree, read from /proc (Linux). Rates and latencies on a shared machine
 * are noisy; the CPU a request costs each process is not, so the benchmark reports that.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (almost always 100). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime of the process itself, in ms. */
  ownMs: number;
  /** cutime + cstime: what its children that exited and were reaped used, in ms. */
  reapedChildrenMs: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited meanwhile
  }
  // comm is in parentheses and may itself contain spaces or parentheses.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  const ms = (index: number) => (Number(fields[index]) * 1000) / TICKS_PER_SECOND;
  // fields[0] is the state (stat field 3): utime is field 14, so fields[11].
  return {
    pid,
    ppid: Number(fields[1]),
    comm: text.slice(open + 1, close),
    ownMs: ms(11) + ms(12),
    reapedChildrenMs: ms(13) + ms(14),
  };
}

/** Every live process below `root`, root included. */
export function processTree(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const tree: ProcStat[] = [];
  const rootStat = all.find((stat) => stat.pid === root);
  const pending = rootStat ? [rootStat] : [];
  for (let next = pending.pop(); next; next = pending.pop()) {
    tree.push(next);
    pending.push(...(children.get(next.pid) ?? []));
  }
  return tree;
}

export type CpuSample = Map<string, { ms: number; processes: number }>;

/**
 * CPU used so far by each role of the tree: `postgres` for every PostgreSQL process (including
 * backends that already exited, through the postmaster's reaped-children time), otherwise the
 * role `classify` gives a process from its name (comm, the process title).
 */
export function sampleCpu(root: number, classify: (comm: string) => string): CpuSample {
  const sample: CpuSample = new Map();
  const add = (role: string, ms: number) => {
    const current = sample.get(role) ?? { ms: 0, processes: 0 };
    sample.set(role, { ms: current.ms + ms, processes: current.processes + 1 });
  };
  for (const stat of processTree(root)) {
    if (stat.comm === "postgres") {
      // Only the postmaster (whose parent is not postgres) reaps backends; count that once.
      const parent = readStat(stat.ppid);
      const isPostmaster = parent?.comm !== "postgres";
      add("postgres", stat.ownMs + (isPostmaster ? stat.reapedChildrenMs : 0));
    } else {
      add(classify(stat.comm), stat.ownMs);
    }
  }
  return sample;
}

/** CPU ms per role between two samples. */
export function cpuDelta(
  before: CpuSample,
  after: CpuSample,
): Map<string, { ms: number; processes: number }> {
  const delta = new Map<string, { ms: number; processes: number }>();
  for (const [role, value] of after) {
    delta.set(role, { ms: value.ms - (before.get(role)?.ms ?? 0), processes: value.processes });
  }
  return delta;
}
