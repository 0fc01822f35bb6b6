// Daemon at scale, for scripts/bench.sh.
//
// Usage: daemon_scale.mjs AMUX RUNNERS DIRS FILES IDLE_S
// Fills $PI_CODING_AGENT_DIR/sessions with FILES small pi session files in
// DIRS directories, starts RUNNERS `amux run -d -- sleep 600` (no daemon:
// AMUX_NO_DAEMON=1 is set by the caller), then starts `amux daemon
// --foreground` and times until `amux ls --json` lists every runner alive.
// Then reads the daemon's memory from /proc/<pid>/status and its CPU ticks
// (utime+stime of /proc/<pid>/stat) across IDLE_S idle seconds. Prints one
// JSON object; kills the daemon it started (the caller kills the runners).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const [amux, runners = "100", dirs = "500", files = "10000", idle = "10"] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fill() {
  const root = path.join(process.env.PI_CODING_AGENT_DIR, "sessions");
  const perDir = Math.ceil(Number(files) / Number(dirs));
  let made = 0;
  for (let d = 0; d < Number(dirs) && made < Number(files); d++) {
    const cwd = `/home/u/project-${d}`;
    const dir = path.join(root, `--home-u-project-${d}--`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < perDir && made < Number(files); f++, made++) {
      const id = `0190b000-0000-7000-8000-${String(made).padStart(12, "0")}`;
      const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, made)).toISOString();
      const lines = [
        { type: "session", version: 3, id, timestamp, cwd },
        { type: "message", timestamp, message: { role: "user", content: [{ type: "text", text: `old conversation ${made}` }] } },
        { type: "message", timestamp, message: { role: "assistant", content: [{ type: "text", text: "done" }], stopReason: "stop" } },
      ];
      writeFileSync(path.join(dir, `${timestamp.replace(/[:.]/g, "-")}_${id}.jsonl`), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    }
  }
  return made;
}

function startRunners() {
  const ids = [];
  for (let i = 0; i < Number(runners); i++) {
    const r = spawnSync(amux, ["run", "-d", "--", "sleep", "600"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`amux run -d failed: ${r.status}`);
    ids.push(r.stdout.trim());
  }
  return ids;
}

function aliveListed(ids) {
  const r = spawnSync(amux, ["ls", "--json"], { stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
  if (r.status !== 0) return 0;
  try {
    const live = new Set(JSON.parse(r.stdout).filter((s) => s.alive).map((s) => s.id));
    return ids.filter((id) => live.has(id)).length;
  } catch {
    return 0;
  }
}

const status = (pid, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
const ticks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 on
  return Number(f[11]) + Number(f[12]); // utime (14), stime (15)
};

async function main() {
  const t0 = now();
  const made = fill();
  const ids = startRunners();
  const setup_ms = now() - t0;
  const daemon = spawn(amux, ["daemon", "--foreground"], { stdio: ["ignore", "ignore", "ignore"] });
  try {
    const start = now();
    let listed = 0;
    while ((listed = aliveListed(ids)) < ids.length && now() - start < 60000) await sleep(5);
    const scan_ms = now() - start;
    const startup = { rss_kb: status(daemon.pid, "VmRSS"), ticks: ticks(daemon.pid) };
    await sleep(1000); // let the start-up work settle before the idle window
    const before = ticks(daemon.pid);
    await sleep(Number(idle) * 1000);
    const idle_ticks = ticks(daemon.pid) - before;
    return {
      files: made, runners: ids.length, listed, setup_ms, scan_ms,
      startup_rss_kb: startup.rss_kb, startup_ticks: startup.ticks,
      rss_kb: status(daemon.pid, "VmRSS"), hwm_kb: status(daemon.pid, "VmHWM"), idle_ticks,
    };
  } finally {
    daemon.kill("SIGTERM");
  }
}

main().then(
  (r) => { console.log(JSON.stringify(r)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); },
);
