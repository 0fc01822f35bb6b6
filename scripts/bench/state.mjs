// Agent state change → `amux events` line, for scripts/bench.sh.
//
// Usage: state.mjs AMUX BIN DIR KIND COUNT INTERVAL_MS
// Starts BIN/KIND (state_agent.mjs installed as `claude` or `codex`) under
// `amux run -d`, subscribes to `amux events`, waits until the session's
// record holds the agent's file and says working, opens the gate (DIR/go)
// and pairs the k-th change of the record's `status.state` with the k-th
// change the agent made. A change to the wrong state counts as wrong, one
// shown before its moment (a waiting before the dialog takes keys) as
// early, a change with no event as missing. Prints one JSON object; never
// throws on a bad run, reports it instead.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const [amux, bin, dir, kind, count = "200", interval = "20"] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (what, ms, ok) => {
  const end = now() + ms;
  while (now() < end) {
    if (ok()) return;
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
};

function percentiles(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const at = (p) => v[Math.max(0, Math.ceil(p * v.length) - 1)];
  return { n: v.length, p50: at(0.5), p99: at(0.99), max: v[v.length - 1] };
}

async function main() {
  const agent = path.join(bin, kind);
  const r = spawnSync(amux, ["run", "-d", "--", agent, dir, count, interval], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`amux run -d failed: ${r.status}`);
  const id = r.stdout.trim();
  const seen = [];
  let held = null;
  let state = null;
  const child = spawn(amux, ["events"], { stdio: ["ignore", "pipe", "inherit"] });
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    const t = now();
    let ev;
    try { ev = JSON.parse(l); } catch { return; }
    const s = ev.session;
    if (ev.type !== "session" || s?.id !== id) return;
    held = s.conversation?.file ?? null;
    const st = s.status?.state ?? null;
    if (st !== state) seen.push({ state: (state = st), t });
  });
  try {
    const ready = path.join(dir, "ready");
    await until("the agent's files", 20000, () => existsSync(ready));
    const { file, error } = JSON.parse(readFileSync(ready, "utf8"));
    if (error) throw new Error(error);
    await until(`the record to hold ${file} and say working`, 20000, () => held === file && state === "working");
    const base = seen.length;
    writeFileSync(path.join(dir, "go"), "");
    const done = path.join(dir, "changes.json");
    // Claude's dialogs stay open ~0.7 s each: a second per change is ample.
    await until("the agent's changes", Number(count) * 1000 + 20000, () => existsSync(done));
    const changes = JSON.parse(readFileSync(done, "utf8"));
    await until("every event", 2000, () => seen.length - base >= changes.length).catch(() => {});
    const live = seen.slice(base);
    const lat = [];
    let wrong = 0;
    let early = 0;
    changes.forEach((c, k) => {
      if (!live[k]) return;
      if (live[k].state !== c.state) wrong++;
      else if (live[k].t < c.t) early++;
      else lat.push(live[k].t - c.t);
    });
    if (process.env.BENCH_DEBUG) writeFileSync(path.join(dir, "debug.json"), JSON.stringify({ changes, live }));
    return { ...percentiles(lat), missing: Math.max(0, changes.length - live.length), wrong, early };
  } finally {
    writeFileSync(path.join(dir, "stop"), "");
    child.kill();
  }
}

main().then(
  (r) => { console.log(JSON.stringify(r)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); },
);
