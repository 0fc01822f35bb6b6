// Latency and end-to-end following benches for scripts/bench.sh.
//
// Usage: latency.mjs MODE AMUX AGENT DIR COUNT INTERVAL_MS [MB]
//   runner: agent write → `session_file` on the runner's GET /events
//   daemon: agent write → `amux events` line whose conversation.file moved
//   follow: MB of pi lines appended to the attributed file, then a
//           session_info name line → `amux events` shows that title;
//           again with the daemon stopped while writing (see follow())
// Starts AGENT (rebind_agent.mjs) under `amux run -d` in the current
// directory, subscribes, waits until the subscriber sees the agent's
// second file bound (so every later event is live), opens the gate
// (DIR/go) and matches events to writes in order. Times are
// process.hrtime (CLOCK_MONOTONIC, shared with the agent). Prints one JSON
// object on stdout; never throws on a bad run, reports it instead.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import readline from "node:readline";

const [mode, amux, agent, dir, count = "200", interval = "20", mb = "100"] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (what, ms, ok) => {
  const end = now() + ms;
  while (now() < end) {
    if (ok()) return true;
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
};

function start() {
  // Not pi: no extension flag in its argv (`--no-inject`).
  const r = spawnSync(amux, ["run", "-d", "--no-inject", "--", process.execPath, agent, dir, count, interval], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`amux run -d failed: ${r.status}`);
  return r.stdout.trim();
}

// Runner subscriber: every `session_file` event as {path, t}.
function runnerEvents(id, seen) {
  const socketPath = path.join(process.env.AMUX_RUNTIME_DIR, "sessions", `${id}.sock`);
  const req = http.get({ socketPath, path: "/events" }, (res) => {
    let buf = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      const t = now();
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const name = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (name === "session_file" && data) seen.push({ path: JSON.parse(data).path, t });
      }
    });
  });
  req.on("error", (e) => console.error(`subscriber: ${e.message}`));
  return () => req.destroy();
}

// `amux events` subscriber: our session's record each time it changes
// file ({path, t}) and each time its title changes ({title, t});
// records with no file between two files are counted in `transient`.
function daemonEvents(id, seen, titles, transient) {
  const child = spawn(amux, ["events"], { stdio: ["ignore", "pipe", "inherit"] });
  let file = null;
  let title = null;
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    const t = now();
    let ev;
    try { ev = JSON.parse(l); } catch { return; }
    const s = ev.session;
    if (ev.type !== "session" || s?.id !== id) return;
    const f = s.conversation?.file ?? null;
    if (f !== file && f === null) transient.n++; // released, not yet rebound
    if (f !== file && f !== null) seen.push({ path: f, t });
    file = f;
    if (s.title !== title) titles.push({ title: (title = s.title), t });
  });
  return () => child.kill();
}

function percentiles(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const at = (p) => v[Math.max(0, Math.ceil(p * v.length) - 1)];
  return { n: v.length, p50: at(0.5), p99: at(0.99), max: v[v.length - 1] };
}

// Pairs the k-th live file change with the k-th write (each write is a new path).
function match(writes, live) {
  const lat = [];
  let wrong = 0;
  for (let k = 0; k < writes.length; k++) {
    const e = live[k];
    if (!e) break;
    if (e.path !== writes[k].path) wrong++;
    else lat.push(e.t - writes[k].t);
  }
  return { ...percentiles(lat), missing: writes.length - Math.min(writes.length, live.length), wrong };
}

// Appends MB of pi lines to B, then a session_info line naming the session;
// times until `amux events` shows that name. Once with the daemon running
// (includes the writer's speed), once with the daemon stopped (SIGSTOP,
// pid in $BENCH_DAEMON_PID) while the bytes are written, timed from
// SIGCONT: the daemon's own catch-up rate.
async function follow(b, titles) {
  const line = (role, i) =>
    `${JSON.stringify({ type: "message", timestamp: new Date().toISOString(), message: { role, content: [{ type: "text", text: `line ${i} ${"lorem ipsum dolor sit amet ".repeat(16)}` }], ...(role === "assistant" ? { stopReason: "stop" } : {}) } })}\n`;
  const chunk = Array.from({ length: 2000 }, (_, i) => line(i % 2 ? "assistant" : "user", i)).join("");
  const grow = (name) => {
    let written = 0;
    while (written < Number(mb) * 1e6) {
      appendFileSync(b, chunk);
      written += Buffer.byteLength(chunk);
    }
    appendFileSync(b, `${JSON.stringify({ type: "session_info", name })}\n`);
    return written;
  };
  const seenAt = async (name) => {
    await until(`the daemon to show the title ${name}`, 120000, () => titles.some((x) => x.title === name));
    return titles.find((x) => x.title === name).t;
  };
  const t0 = now();
  const bytes = grow(`bench-live-${process.pid}`);
  const t1 = now();
  const t2 = await seenAt(`bench-live-${process.pid}`);
  const out = { bytes, write_ms: t1 - t0, total_ms: t2 - t0, lag_ms: t2 - t1, mbps: bytes / 1e6 / ((t2 - t0) / 1e3) };
  const daemon = Number(process.env.BENCH_DAEMON_PID);
  if (!daemon) return out;
  process.kill(daemon, "SIGSTOP");
  let bytes2;
  try {
    bytes2 = grow(`bench-paused-${process.pid}`);
  } finally {
    process.kill(daemon, "SIGCONT");
  }
  const t3 = now();
  const t4 = await seenAt(`bench-paused-${process.pid}`);
  return { ...out, catchup_ms: t4 - t3, catchup_mbps: bytes2 / 1e6 / ((t4 - t3) / 1e3) };
}

async function main() {
  const id = start();
  const seen = [];
  const titles = [];
  const transient = { n: 0 };
  const stop = mode === "runner" ? runnerEvents(id, seen) : daemonEvents(id, seen, titles, transient);
  try {
    const ready = path.join(dir, "ready");
    await until("the agent's files", 20000, () => existsSync(ready));
    const { a, b } = JSON.parse(readFileSync(ready, "utf8"));
    await until("the subscriber to see the second file bound", 20000, () => seen.at(-1)?.path === b).catch((e) => {
      throw new Error(`${e.message} (seen ${JSON.stringify(seen.map((s) => s.path))}, b ${b})`);
    });
    const base = seen.length;
    transient.n = 0;
    if (mode === "follow") {
      writeFileSync(path.join(dir, "go"), "");
      return await follow(b, titles);
    }
    writeFileSync(path.join(dir, "go"), "");
    const done = path.join(dir, "writes.json");
    await until("the agent's writes", 60000, () => existsSync(done));
    const writes = JSON.parse(readFileSync(done, "utf8"));
    await until("every event", 2000, () => seen.length - base >= writes.length).catch(() => {});
    if (process.env.BENCH_DEBUG) writeFileSync(path.join(dir, "debug.json"), JSON.stringify({ writes, seen: seen.slice(base) }));
    return { ...match(writes, seen.slice(base)), transient: transient.n };
  } finally {
    writeFileSync(path.join(dir, "stop"), "");
    stop();
  }
}

main().then(
  (r) => { console.log(JSON.stringify(r)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); },
);
