/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `npm run bench:api -- --profile DIR`) as text:
 * where the server's time went, by function (self time) and by source file or package, so a missed target
 * can be traced to the code that costs the most without opening DevTools.
 *
 *   node dist/bench/api/profile.js [--top N] [--callers NAME] FILE.cpuprofile [...]
 *
 * --callers NAME also lists the call paths (5 frames up) that lead to functions called NAME, by self time:
 * the way to find who calls an expensive library function.
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg>, our own dist/src/... file, or node:internal — the unit one would go and change. */
function area(url: string): string {
  if (url === "") return "(native / V8)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return `npm:${rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith("node:")) return url.startsWith("node:internal/") ? `node:${url.split("/")[1]}` : url;
  const dist = url.indexOf("/dist/");
  return dist >= 0 ? url.slice(dist + "/dist/".length) : url;
}

function frameText(frame: CallFrame): string {
  const where = frame.url ? `${area(frame.url)}:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${where}`.trim();
}

function summarise(file: string, top: number, callers: string | null): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attributing it to sample i is what DevTools does too.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = profile.endTime - profile.startTime;

  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const key = frameText(frame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const a = frame.url ? area(frame.url) : frame.functionName; // (garbage collector), (program), ...
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const table = (title: string, m: Map<string, number>) => {
    const rowsOut = [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, top);
    return [
      title,
      ...rowsOut.map(
        ([k, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(8)} ms ${((us / busyUs) * 100).toFixed(1).padStart(5)} %  ${k}`,
      ),
    ].join("\n");
  };
  const sections: string[] = [];
  if (callers !== null) {
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const paths = new Map<string, number>();
    for (const [id, us] of selfUs) {
      if (byId.get(id)!.callFrame.functionName !== callers) continue;
      const chain: string[] = [];
      for (let p = parent.get(id), depth = 0; p !== undefined && depth < 5; p = parent.get(p), depth++)
        chain.push(frameText(byId.get(p)!.callFrame));
      const key = chain.join("  <-  ");
      paths.set(key, (paths.get(key) ?? 0) + us);
    }
    sections.push(table(`call paths into ${callers} (self time of ${callers}, % of busy):`, paths));
  }
  return [
    `${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s busy (${((busyUs / totalUs) * 100).toFixed(0)} %)`,
    table("self time by source file / package (% of busy):", byArea),
    table("self time by function (% of busy):", byFunction),
    ...sections,
  ].join("\n");
}

const argv = process.argv.slice(2);
let top = 25;
let callers: string | null = null;
const files: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--top") top = Number(argv[++i]) || top;
  else if (argv[i] === "--callers") callers = argv[++i] ?? null;
  else files.push(argv[i]);
}
if (files.length === 0) {
  process.stderr.write(
    "usage: node dist/bench/api/profile.js [--top N] [--callers NAME] FILE.cpuprofile [...]\n",
  );
  process.exit(2);
}
for (const f of files) process.stdout.write(summarise(f, top, callers) + "\n\n");
