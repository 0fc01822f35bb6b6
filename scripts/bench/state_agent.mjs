#!/usr/bin/env node
// Fake Claude Code / Codex for the agent-state bench (scripts/bench.sh),
// installed as `claude` or `codex` in a bin dir on PATH so amux takes it
// for that agent.
//
// Usage: claude|codex DIR COUNT INTERVAL_MS (amux's `-c K=V` launch flags
// for Codex may come anywhere and are skipped)
// Starts a conversation the way the agent does (Claude: pidfile `busy`,
// then a prompt and a `tool_use` line in the transcript; Codex: a rollout
// with session_meta and a prompt, held open as Codex holds it), writes
// DIR/ready and waits for DIR/go. Then COUNT state changes, one every
// INTERVAL_MS, alternating:
//   claude: pidfile `waiting` (a permission dialog opens), `busy` (answered)
//   codex:  OSC 9 "Approval requested: …" on stdout, then two rollout lines
//           (the approved command's output), which end the wait
// Each change is timed just before the write with process.hrtime (the
// system-wide CLOCK_MONOTONIC the bench's subscriber reads too) with the
// state amux should report; the list goes to DIR/changes.json. Then it
// waits for DIR/stop and exits.
import { appendFileSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";

const kind = path.basename(process.argv[1]);
// What amux adds per launch (Codex's `-c KEY=VALUE`, Claude's
// `--settings LAYER`) is not ours.
const added = ["-c", "--settings"];
const args = process.argv.slice(2).filter((a, i, all) => !added.includes(a) && !added.includes(all[i - 1]));
const [dir, count = "200", interval = "20"] = args;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cwd = process.cwd();
const iso = () => new Date().toISOString();
const line = (o) => `${JSON.stringify(o)}\n`;
const sid = `5a0c1d2e-3f40-4152-8364-${String(process.pid).padStart(12, "0")}`;

function claude() {
  const home = process.env.CLAUDE_CONFIG_DIR;
  const sessions = path.join(home, "sessions");
  const project = path.join(home, "projects", cwd.replace(/[^A-Za-z0-9]/g, "-"));
  mkdirSync(sessions, { recursive: true });
  mkdirSync(project, { recursive: true });
  const pidfile = (status) => {
    const tmp = path.join(sessions, `.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, sessionId: sid, cwd, startedAt: Date.now(),
      version: "2.1.330", kind: "interactive", entrypoint: "cli", status, statusUpdatedAt: Date.now() }));
    renameSync(tmp, path.join(sessions, `${process.pid}.json`));
  };
  pidfile("busy");
  const file = path.join(project, `${sid}.jsonl`);
  const base = { isSidechain: false, cwd, sessionId: sid, version: "2.1.330" };
  appendFileSync(file, line({ ...base, parentUuid: null, type: "user", uuid: "u1", timestamp: iso(),
    userType: "external", entrypoint: "cli", message: { role: "user", content: "make a file" } }));
  appendFileSync(file, line({ ...base, parentUuid: "u1", type: "assistant", uuid: "a0", timestamp: iso(),
    message: { role: "assistant", type: "message", stop_reason: "tool_use",
      content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "touch /tmp/x" } }] } }));
  return { file, step: (k) => (k % 2 === 0 ? (pidfile("waiting"), "waiting") : (pidfile("busy"), "working")) };
}

function codex() {
  const ts = iso();
  const day = path.join(process.env.CODEX_HOME, "sessions", ts.slice(0, 4), ts.slice(5, 7), ts.slice(8, 10));
  mkdirSync(day, { recursive: true });
  const file = path.join(day, `rollout-${ts.slice(0, 19).replace(/:/g, "-")}-${sid}.jsonl`);
  const fd = openSync(file, "a+");
  const item = (payload) => writeSync(fd, line({ timestamp: iso(), type: "response_item", payload }));
  writeSync(fd, line({ timestamp: ts, type: "session_meta", payload: { id: sid, timestamp: ts, cwd,
    originator: "codex-tui", cli_version: "0.169.0" } }));
  writeSync(fd, line({ timestamp: ts, type: "event_msg", payload: { type: "task_started" } }));
  item({ type: "message", role: "user", content: [{ type: "input_text", text: "make a file" }] });
  const step = (k) => {
    if (k % 2 === 0) {
      process.stdout.write(`asking\x1b]9;Approval requested: touch /tmp/x${k}\x07\n`);
      return "waiting";
    }
    item({ type: "function_call", name: "exec_command", arguments: "{}", call_id: `c${k}` });
    item({ type: "function_call_output", call_id: `c${k}`, output: "ok" });
    return "working";
  };
  return { file, step };
}

const agent = kind === "codex" ? codex() : claude();
writeFileSync(path.join(dir, "ready.tmp"), JSON.stringify({ file: agent.file }));
renameSync(path.join(dir, "ready.tmp"), path.join(dir, "ready"));
while (!existsSync(path.join(dir, "go"))) await sleep(5);
const changes = [];
for (let k = 0; k < Number(count); k++) {
  const t = now();
  changes.push({ state: agent.step(k), t });
  await sleep(Number(interval));
}
writeFileSync(path.join(dir, "changes.tmp"), JSON.stringify(changes));
renameSync(path.join(dir, "changes.tmp"), path.join(dir, "changes.json"));
while (!existsSync(path.join(dir, "stop"))) await sleep(20);
