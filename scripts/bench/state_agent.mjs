#!/usr/bin/env node
// Fake Claude Code / Codex for the agent-state bench (scripts/bench.sh),
// installed as `claude` or `codex` in a bin dir on PATH so amux takes it
// for that agent.
//
// Usage: claude|codex DIR COUNT INTERVAL_MS (what amux adds per launch
// may come anywhere: Claude's `--settings LAYER` is read for its hooks,
// Codex's `-c K=V` flags are skipped)
// Starts a conversation the way the agent does, writes DIR/ready and
// waits for DIR/go. Then COUNT state changes, alternating waiting and
// working:
//   claude: the hooks of the `--settings` layer amux injected, run as
//           Claude Code runs them (`sh -c COMMAND`, the moment as JSON on
//           stdin, awaited): PreToolUse then PermissionRequest (a
//           permission dialog opens: waiting), PostToolUse (answered, the
//           tool ran: working). The pidfile is written at start only, as
//           the figure times the hooks' path.
//   codex:  OSC 9 "Approval requested: …" on stdout, then two rollout lines
//           (the approved command's output), which end the wait
// one every INTERVAL_MS (Claude's dialog is answered INTERVAL_MS after it
// takes keys). Each change is timed just before the agent acts, with
// process.hrtime (the system-wide CLOCK_MONOTONIC the bench's subscriber
// reads too), with the state amux should report from then on (Claude's
// waiting: from when its dialog takes keys); the list goes to
// DIR/changes.json. Then it waits for DIR/stop and exits. What goes wrong
// before the changes goes to DIR/ready as {error}, for the bench to say.
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";

const kind = path.basename(process.argv[1]);
const argv = process.argv.slice(2);
// Claude's settings layer (inline JSON as amux passes it, or a file, as
// Claude takes either), `null` when none was given.
const settingsAt = argv.findIndex((a) => a === "--settings" || a.startsWith("--settings="));
const settings = settingsAt < 0 ? null
  : argv[settingsAt].startsWith("--settings=") ? argv[settingsAt].slice("--settings=".length) : argv[settingsAt + 1];
// What amux adds per launch (Codex's `-c KEY=VALUE`, Claude's
// `--settings LAYER`) is no argument of ours.
const added = ["-c", "--settings"];
const args = argv.filter((a, i, all) => !added.includes(a) && !added.includes(all[i - 1]) && !a.startsWith("--settings="));
const [dir, count = "200", interval = "20"] = args;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cwd = process.cwd();
const iso = () => new Date().toISOString();
const line = (o) => `${JSON.stringify(o)}\n`;
const sid = `5a0c1d2e-3f40-4152-8364-${String(process.pid).padStart(12, "0")}`;

// Claude Code 2.1.330 drops keys pressed in a permission dialog's first
// moments; amux reports `waiting` only once the dialog takes keys, which
// it takes to be 700 ms after the PermissionRequest hook (claude.rs,
// `dialog_grace`). That moment is when this stand-in's dialog takes keys:
// the change a `wait --until waiting && send` sees. An amux that said
// waiting sooner shows here as early events, one that said it later as
// late or missing ones.
const DIALOG_TAKES_KEYS_MS = 700;

// The command hooks of a settings layer, by event: Claude runs every
// command of every group (ours have no matcher).
function hooksOf(layer) {
  if (layer === null) throw new Error("claude started without --settings: amux injected no hooks");
  const json = layer.trimStart().startsWith("{") ? layer : readFileSync(layer, "utf8");
  const byEvent = JSON.parse(json).hooks ?? {};
  const hooks = {};
  for (const [event, groups] of Object.entries(byEvent)) {
    hooks[event] = groups.flatMap((g) => g.hooks ?? []).filter((h) => h.type === "command").map((h) => h.command);
  }
  for (const e of ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse"]) {
    if (!hooks[e]?.length) throw new Error(`no ${e} hook in claude's --settings`);
  }
  return hooks;
}

function claude() {
  const home = process.env.CLAUDE_CONFIG_DIR;
  const sessions = path.join(home, "sessions");
  const project = path.join(home, "projects", cwd.replace(/[^A-Za-z0-9]/g, "-"));
  mkdirSync(sessions, { recursive: true });
  mkdirSync(project, { recursive: true });
  const file = path.join(project, `${sid}.jsonl`);
  const hooks = hooksOf(settings);
  // A hook as Claude runs one: through a shell, the moment on stdin, in
  // the session's environment (amux's runner socket and FIFO in it),
  // awaited (a hook may decide; ours exit at once). Its output is
  // not read: amux's hook prints nothing.
  const hook = (event, fields = {}) => Promise.all(hooks[event].map((command) => new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], { cwd, stdio: ["pipe", "ignore", "inherit"],
      env: { ...process.env, CLAUDE_PROJECT_DIR: cwd } });
    child.on("error", resolve).on("exit", resolve);
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify({ session_id: sid, transcript_path: file, cwd,
      permission_mode: "default", hook_event_name: event, ...fields }));
  })));
  // With `updatedAt`, as Claude writes it: amux orders the pidfile's
  // word against the hooks' by it, and one without it would count as
  // said whenever the daemon reads it (a stale `busy` over a dialog).
  const started = Date.now();
  const pidfile = (status) => {
    const tmp = path.join(sessions, `.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, sessionId: sid, cwd, startedAt: started,
      version: "2.1.330", kind: "interactive", entrypoint: "cli", status, updatedAt: Date.now(),
      statusUpdatedAt: Date.now() }));
    renameSync(tmp, path.join(sessions, `${process.pid}.json`));
  };
  const base = { isSidechain: false, cwd, sessionId: sid, version: "2.1.330" };
  const call = (k) => ({ tool_name: "Bash", tool_input: { command: `touch /tmp/x${k}`, description: `Create x${k}` } });
  const start = async () => {
    pidfile("idle");
    await hook("SessionStart", { source: "startup", model: "claude-sonnet" });
    await hook("UserPromptSubmit", { prompt: "make a file" });
    pidfile("busy");
    appendFileSync(file, line({ ...base, parentUuid: null, type: "user", uuid: "u1", timestamp: iso(),
      userType: "external", entrypoint: "cli", message: { role: "user", content: "make a file" } }));
    appendFileSync(file, line({ ...base, parentUuid: "u1", type: "assistant", uuid: "a0", timestamp: iso(),
      message: { role: "assistant", type: "message", stop_reason: "tool_use",
        content: [{ type: "tool_use", id: "t0", name: "Bash", input: call(0).tool_input }] } }));
  };
  // Dialog n asks about call n (its PreToolUse first: still working, no
  // change); the answer lets the call run (PostToolUse).
  const step = async (k) => {
    const n = k >> 1;
    if (k % 2 === 0) {
      await hook("PreToolUse", { ...call(n), tool_use_id: `t${n}` });
      const t = now();
      await hook("PermissionRequest", { ...call(n), permission_suggestions: [] });
      return { state: "waiting", t: t + DIALOG_TAKES_KEYS_MS };
    }
    const t = now();
    await hook("PostToolUse", { ...call(n), tool_use_id: `t${n}`,
      tool_response: { stdout: "", stderr: "", interrupted: false, isImage: false } });
    return { state: "working", t };
  };
  return { file, start, step };
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
    const t = now();
    if (k % 2 === 0) {
      process.stdout.write(`asking\x1b]9;Approval requested: touch /tmp/x${k}\x07\n`);
      return { state: "waiting", t };
    }
    item({ type: "function_call", name: "exec_command", arguments: "{}", call_id: `c${k}` });
    item({ type: "function_call_output", call_id: `c${k}`, output: "ok" });
    return { state: "working", t };
  };
  return { file, start: async () => {}, step };
}

const ready = (what) => {
  writeFileSync(path.join(dir, "ready.tmp"), JSON.stringify(what));
  renameSync(path.join(dir, "ready.tmp"), path.join(dir, "ready"));
};
let agent;
try {
  agent = kind === "codex" ? codex() : claude();
  await agent.start();
} catch (e) {
  ready({ error: e.message });
  process.exit(1);
}
ready({ file: agent.file });
while (!existsSync(path.join(dir, "go"))) await sleep(5);
const changes = [];
for (let k = 0; k < Number(count); k++) {
  const change = await agent.step(k);
  changes.push(change);
  // The next one INTERVAL_MS after this one took effect.
  await sleep(Math.max(0, change.t + Number(interval) - now()));
}
writeFileSync(path.join(dir, "changes.tmp"), JSON.stringify(changes));
renameSync(path.join(dir, "changes.tmp"), path.join(dir, "changes.json"));
while (!existsSync(path.join(dir, "stop"))) await sleep(20);
