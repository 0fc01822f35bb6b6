// Fake pi agent for the latency benches (scripts/bench.sh). Run it under
// `amux run -d` from a directory named `pi-coding-agent`, so amux takes it
// for pi and arms the preload.
//
// Usage: rebind_agent.mjs DIR COUNT INTERVAL_MS
// Creates two pi session files A and B (header + one user message each;
// the preload reports A, then B), writes DIR/ready ({"a":A,"b":B}), then
// waits for DIR/go. Then COUNT rebinds: one appendFileSync of a message
// line to A, B, A, … every INTERVAL_MS; each is a new path for the preload.
// Each write is timed just before the call with process.hrtime (the
// system-wide CLOCK_MONOTONIC, which the bench's subscriber reads too) and
// the list goes to DIR/writes.json. Then it waits for DIR/stop and exits.
import { appendFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

const [dir, count = "200", interval = "20"] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC
const cwd = process.cwd();
const root = path.join(
  process.env.PI_CODING_AGENT_DIR,
  "sessions",
  `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`,
);
mkdirSync(root, { recursive: true });

const line = (obj) => `${JSON.stringify(obj)}\n`;
const message = (text) =>
  line({ type: "message", timestamp: new Date().toISOString(), message: { role: "user", content: [{ type: "text", text }] } });

function session(tag) {
  const id = `0190b000-0000-7000-8000-${String(process.pid).padStart(10, "0")}${tag}`;
  const timestamp = new Date().toISOString();
  const file = path.join(root, `${timestamp.replace(/[:.]/g, "-")}_${id}.jsonl`);
  appendFileSync(file, line({ type: "session", version: 3, id, timestamp, cwd }));
  appendFileSync(file, message(`bench session ${tag}`));
  return file;
}

// Whole or absent: the bench polls for these files.
const publish = (name, text) => {
  writeFileSync(path.join(dir, `${name}.tmp`), text);
  renameSync(path.join(dir, `${name}.tmp`), path.join(dir, name));
};
const waitFor = (file) =>
  new Promise((resolve) => {
    const t = setInterval(() => existsSync(file) && (clearInterval(t), resolve()), 2);
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const a = session("a");
const b = session("b");
publish("ready", JSON.stringify({ a, b }));
await waitFor(path.join(dir, "go"));
const writes = [];
for (let i = 0; i < Number(count); i++) {
  const file = i % 2 === 0 ? a : b;
  const t = now();
  appendFileSync(file, message(`rebind ${i}`));
  writes.push({ path: file, t });
  await sleep(Number(interval));
}
publish("writes.json", JSON.stringify(writes));
await waitFor(path.join(dir, "stop"));
process.exit(0);
