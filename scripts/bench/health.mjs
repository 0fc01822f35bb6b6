// Daemon responsiveness under a heavy read, for scripts/bench.sh health.
//
// Usage: health.mjs MODE AMUX AGENT DIR MB FILES   (MODE: live | start)
// Runs in a fresh environment (AMUX_NO_DAEMON=1) and starts the daemon
// itself. Writes a pi session file of MB megabytes under pi's session
// root, ending with a session_info line that names it; a prober (this
// script again, `probe` mode, its own process so that this one's blocking
// writes cannot delay it) sends GET /v1/health to the daemon's socket,
// one new connection per request, every 2 ms, each timed.
//   live:  the daemon runs idle for a second (the reference), then the
//          load starts: AGENT (bind_agent.mjs) under `amux run -d` appends
//          to the big file, so the daemon binds it and reads all of it,
//          while this script creates FILES small pi session files in
//          FILES/100 new directories under the root: the watcher adds a
//          watch to each and reads it once, takes every file's events,
//          and rescans everything if its inotify queue overflows.
//   start: the FILES files exist and a runner already holds the big file
//          when the daemon starts: it walks and scans the whole root
//          while it subscribes to the runner and reads the file. The load
//          starts when the daemon is spawned; the reference is the idle
//          second after it.
// The load ends when the daemon shows the session bound with the big
// file's title and its CPU use has fallen to a tenth of a core (over
// 500 ms). Prints one JSON object: p50/p99/max (ms) and n for the loaded
// and idle windows, failed checks, bind_ms, load_ms, the daemon log's
// count of overflow rescans; never throws.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import http from "node:http";
import path from "node:path";

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const daemonSock = () => path.join(process.env.AMUX_RUNTIME_DIR, "daemon.sock");

function get(socketPath, target) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: target, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error("no answer in 10 s")));
  });
}

// Probe mode: health checks until DIR/stop exists, then DIR/probe.json
// (samples as [start, ms], failures as start times).
async function probe(dir) {
  const samples = [];
  const errors = [];
  while (!existsSync(path.join(dir, "stop"))) {
    const t = now();
    try {
      const r = await get(daemonSock(), "/v1/health");
      if (r.status === 200) samples.push([t, now() - t]);
      else errors.push(t);
    } catch {
      errors.push(t); // before the daemon listens (start mode), or a failure
    }
    await sleep(2);
  }
  writeFileSync(path.join(dir, "probe.json"), JSON.stringify({ samples, errors }));
}

const piLine = (role, i) =>
  `${JSON.stringify({ type: "message", timestamp: "2026-01-01T00:00:00.000Z", message: { role, content: [{ type: "text", text: `line ${i} ${"lorem ipsum dolor sit amet ".repeat(16)}` }], ...(role === "assistant" ? { stopReason: "stop" } : {}) } })}\n`;

function sessionDir(root, cwd) {
  const dir = path.join(root, `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// MB of alternating user/assistant lines after a header; the title last.
function writeBig(root, mb, title) {
  const cwd = process.cwd();
  const id = `0190b000-0000-7000-8000-${String(process.pid).padStart(12, "0")}`;
  const file = path.join(sessionDir(root, cwd), `2026-01-01T00-00-00-000Z_${id}.jsonl`);
  const fd = openSync(file, "w");
  writeSync(fd, `${JSON.stringify({ type: "session", version: 3, id, timestamp: "2026-01-01T00:00:00.000Z", cwd })}\n`);
  const chunk = Array.from({ length: 2000 }, (_, i) => piLine(i % 2 ? "assistant" : "user", i)).join("");
  for (let n = 0; n < mb * 1e6; n += Buffer.byteLength(chunk)) writeSync(fd, chunk);
  writeSync(fd, `${JSON.stringify({ type: "session_info", name: title })}\n`);
  closeSync(fd);
  return file;
}

function writeMany(root, files) {
  const dirs = Math.max(1, Math.ceil(files / 100));
  for (let made = 0, d = 0; made < files; d++) {
    const cwd = `/home/u/bench-health-${d}`;
    const dir = sessionDir(root, cwd);
    for (let f = 0; f < 100 && made < files; f++, made++) {
      const id = `0190b001-0000-7000-8000-${String(made).padStart(12, "0")}`;
      const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, made)).toISOString();
      const header = { type: "session", version: 3, id, timestamp, cwd };
      writeFileSync(path.join(dir, `${timestamp.replace(/[:.]/g, "-")}_${id}.jsonl`),
        `${JSON.stringify(header)}\n${piLine("user", made)}`);
    }
  }
  return dirs;
}

const ticks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime
};

function stats(xs) {
  const v = xs.map((s) => s[1]).sort((a, b) => a - b);
  const at = (p) => v[Math.max(0, Math.ceil(p * v.length) - 1)];
  return { n: v.length, p50: at(0.5), p99: at(0.99), max: v[v.length - 1] };
}

function spawnDaemon(amux, dir) {
  const log = openSync(path.join(dir, "daemon.stderr"), "w");
  return spawn(amux, ["daemon", "--foreground"], { stdio: ["ignore", "ignore", log] });
}

function runAgent(amux, agent, big, dir) {
  // Not pi: no extension flag in its argv (`--no-inject`).
  const run = spawnSync(amux, ["run", "-d", "--no-inject", "--", process.execPath, agent, big, dir], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`amux run -d failed: ${run.status}`);
  return run.stdout.trim();
}

async function until(what, ms, ok) {
  const end = now() + ms;
  while (now() < end) {
    if (await ok()) return now();
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const answer = async (sock, target) => {
  const r = await get(sock, target).catch(() => null);
  return r?.status === 200 ? JSON.parse(r.body) : null;
};

// Until the daemon shows `id` holding `big` with `title`, then until it
// is quiet: a 500 ms window with ≤ 10 % of a CPU (ticks are 1/100 s; the
// probes alone cost a few %). Returns [bound, settled] times.
async function loaded(daemon, id, big, title) {
  const bound = await until("the daemon to show the big file's title", 120000, async () => {
    const s = await answer(daemonSock(), `/v1/sessions/${id}`);
    return s?.conversation?.file === big && s.title === title;
  });
  const end = now() + 120000;
  while (now() < end) {
    const [a, t] = [ticks(daemon.pid), now()];
    await sleep(500);
    if (ticks(daemon.pid) - a <= 5) return [bound, t];
  }
  return [bound, now()];
}

async function main() {
  const [mode, amux, agent, dir, mb = "200", files = "20000"] = process.argv.slice(2);
  const root = path.join(process.env.PI_CODING_AGENT_DIR, "sessions");
  const title = `bench-health-${process.pid}`;
  const big = writeBig(root, Number(mb), title);
  let daemon = null;
  let prober = null;
  const startProber = () => {
    prober = spawn(process.execPath, [process.argv[1], "probe", dir], { stdio: "inherit" });
    return new Promise((r) => prober.on("exit", r));
  };
  try {
    let probed, t0, id, written, dirs, idle;
    if (mode === "live") {
      daemon = spawnDaemon(amux, dir);
      await until("the daemon to answer", 10000, () => answer(daemonSock(), "/v1/health"));
      probed = startProber();
      await sleep(1000);
      t0 = now();
      idle = [0, t0];
      id = runAgent(amux, agent, big, dir);
      dirs = writeMany(root, Number(files));
      written = now();
    } else {
      dirs = writeMany(root, Number(files));
      id = runAgent(amux, agent, big, dir);
      const sock = path.join(process.env.AMUX_RUNTIME_DIR, "sessions", `${id}.sock`);
      await until("the runner to hold the big file", 10000, async () => (await answer(sock, "/meta"))?.session_file === big);
      probed = startProber();
      await sleep(100);
      t0 = written = now();
      daemon = spawnDaemon(amux, dir);
    }
    const [bound, t1] = await loaded(daemon, id, big, title);
    if (mode !== "live") {
      await sleep(1000);
      idle = [t1, now()];
    }
    writeFileSync(path.join(dir, "stop"), "");
    await probed;
    const { samples, errors } = JSON.parse(readFileSync(path.join(dir, "probe.json"), "utf8"));
    const first = samples.find(([t]) => t >= t0)?.[0] ?? t0; // start: the daemon listens
    const log = path.join(process.env.XDG_STATE_HOME, "amux", "daemon.log");
    const rescans = existsSync(log) ? (readFileSync(log, "utf8").match(/rescanning/g) ?? []).length : null;
    const quiet = stats(samples.filter(([t]) => t >= idle[0] && t < idle[1]));
    const load = stats(samples.filter(([t]) => t >= t0 && t <= t1));
    console.log(JSON.stringify({
      p50: load.p50, p99: load.p99, max: load.max, n: load.n,
      errors: errors.filter((t) => t >= first && t <= t1).length,
      idle_p50: quiet.p50, idle_p99: quiet.p99, idle_n: quiet.n,
      bind_ms: bound - t0, write_ms: written - t0, load_ms: t1 - t0, dirs, rescans,
    }));
  } catch (e) {
    console.log(JSON.stringify({ error: e.message }));
  } finally {
    writeFileSync(path.join(dir, "stop"), "");
    daemon?.kill();
  }
}

if (process.argv[2] === "probe") await probe(process.argv[3]);
else await main();
