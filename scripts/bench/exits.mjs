// Many exits at once, for scripts/bench.sh (figure 12).
//
// Usage: exits.mjs AMUX N
// Starts `amux daemon --foreground` (the caller sets AMUX_NO_DAEMON=1),
// then N `amux run -d -- sleep 600`, waits until `amux ls --json` lists
// them all alive, SIGKILLs every agent at once and polls `amux ls --json
// --all` back to back until every one of them is listed dead. Prints one
// JSON object: the time from the kills to the listing that showed all N
// dead, the slowest `ls` meanwhile, how many ran and how many failed.
import { spawn, spawnSync } from "node:child_process";

const [amux, n = "200"] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ls(all) {
  const args = all ? ["ls", "--json", "--all"] : ["ls", "--json"];
  const t = now();
  const r = spawnSync(amux, args, { stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
  const ms = now() - t;
  if (r.status !== 0) return { ms, records: null };
  try {
    return { ms, records: JSON.parse(r.stdout) };
  } catch {
    return { ms, records: null };
  }
}

function startRunners() {
  const ids = [];
  for (let i = 0; i < Number(n); i++) {
    const r = spawnSync(amux, ["run", "-d", "--", "sleep", "600"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`amux run -d failed: ${r.status}`);
    ids.push(r.stdout.trim());
  }
  return ids;
}

async function main() {
  const daemon = spawn(amux, ["daemon", "--foreground"], { stdio: ["ignore", "ignore", "ignore"] });
  try {
    const ids = startRunners();
    const want = new Set(ids);
    let pids = [];
    const start = now();
    while (now() - start < 60000) {
      const { records } = ls(false);
      const live = (records ?? []).filter((r) => want.has(r.id) && r.alive && r.pid);
      if (live.length === ids.length) {
        pids = live.map((r) => r.pid);
        break;
      }
      await sleep(20);
    }
    if (pids.length !== ids.length) throw new Error(`only ${pids.length} of ${ids.length} listed alive`);
    const killed = now();
    for (const pid of pids) process.kill(pid, "SIGKILL");
    let worst = 0, polls = 0, failures = 0, dead = 0, visible_ms = null;
    while (now() - killed < 30000) {
      const { ms, records } = ls(true);
      polls++;
      worst = Math.max(worst, ms);
      if (!records) {
        failures++;
        continue;
      }
      dead = records.filter((r) => want.has(r.id) && !r.alive).length;
      if (dead === ids.length) {
        visible_ms = now() - killed;
        break;
      }
    }
    return { n: ids.length, dead, visible_ms, worst_ls_ms: worst, polls, failures };
  } finally {
    daemon.kill("SIGTERM");
  }
}

main().then(
  (r) => { console.log(JSON.stringify(r)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); },
);
