/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, and self
 * time by module (our src/ files, each package, node internals, GC, idle).
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Busy = total minus (idle) and (program). */
  busyMs: number;
  top: ProfileRow[];
  byModule: ProfileRow[];
}

/** Where a frame's code lives: `src/…` for ours, the package name, `node:…`, or a V8 pseudo-frame. */
export function moduleOf(url: string, name: string): string {
  if (!url) return name.startsWith("(") ? name : "(native)";
  if (url.startsWith("node:")) return url;
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // bundled bench entries (bench/.build/*.mjs) hold our src/: name the entry
  const m = /\/(src|bench)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

export function summarizeProfile(path: string, topN = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const mod = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    total += us;
    const name = cf.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") idle += us;
    const file = cf.url ? cf.url.replace(/^file:\/\//, "") : "";
    const where = file ? `${file.replace(/^.*\/(node_modules|src|bench)\//, "$1/")}:${cf.lineNumber + 1}` : "";
    const key = `${name}|${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const m = moduleOf(file, name);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  const top = [...fn.values()]
    .filter((e) => e.name !== "(idle)" && e.name !== "(program)")
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, pct: pct(e.us) }));
  const byModule = [...mod.entries()]
    .filter(([k]) => k !== "(idle)" && k !== "(program)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([k, us]) => ({ name: k, where: "", selfMs: us / 1000, pct: pct(us) }));
  return { totalMs: total / 1000, busyMs: busy / 1000, top, byModule };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: profile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  const s = summarizeProfile(file, Number(process.argv[3] ?? 25));
  const line = (r: ProfileRow) => `${r.selfMs.toFixed(1).padStart(9)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}${r.where ? "  " + r.where : ""}`;
  process.stdout.write(`total ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (percentages of busy)\n\nTop self time:\n`);
  for (const r of s.top) process.stdout.write(line(r) + "\n");
  process.stdout.write("\nSelf time by module:\n");
  for (const r of s.byModule) process.stdout.write(line(r) + "\n");
}
