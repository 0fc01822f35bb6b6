// Fake interactive pi for the churn oracle (tests/oracle/), run under the
// preload by node or bun. It writes pi-format lines (see
// src/adapters/pi.rs) with one appendFileSync per line, like pi, and does
// only what the harness says.
//
// Control: the harness appends JSON commands, one a line, to
// $AMUX_TEST_DIR/ctl/$AMUX_SESSION_ID.cmd; this program polls that file
// and appends one JSON ack per command to ….ack ({"ready":…} first, then
// {"done":SEQ,"file":F}). A line typed on stdin (`amux send`) is one turn,
// acked as {"stdin":TEXT,"file":F}. `--session F -c` (the resume command)
// makes F the current file without writing to it.
//
// Commands: {"op":"turn","text"} user + assistant stop; {"op":"user"} the
// user message only (working); {"op":"error"} user + four assistant errors
// (retries exhausted); {"op":"name","name"} session_info; {"op":"new"}
// a new file, then a turn (`/new`); {"op":"open","path"} make PATH current
// (a header first if it is new), then a turn (`/resume`); {"op":"exit","code"}.
import { appendFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const sid = process.env.AMUX_SESSION_ID;
const ctl = path.join(process.env.AMUX_TEST_DIR, "ctl");
const cmdFile = path.join(ctl, `${sid}.cmd`);
const ackFile = path.join(ctl, `${sid}.ack`);
const cwd = process.cwd();
const dir = path.join(
  process.env.PI_CODING_AGENT_DIR,
  "sessions",
  `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`,
);

let cur = null;
const args = process.argv.slice(2);
const at = args.indexOf("--session");
if (at >= 0) cur = args[at + 1];

let seq = 0;
const uuid = () => {
  const hex = (Date.now() * 1000 + seq++).toString(16).padStart(16, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8000-${process.pid.toString(16).padStart(12, "0")}`;
};
const ack = (obj) => appendFileSync(ackFile, JSON.stringify(obj) + "\n");
const save = (obj) => appendFileSync(cur, JSON.stringify(obj) + "\n");
const stamp = () => new Date().toISOString();
const message = (role, text, extra = {}) => ({
  type: "message",
  id: uuid().slice(0, 8),
  timestamp: stamp(),
  message: { role, content: [{ type: "text", text }], ...extra },
});

function fresh() {
  const id = uuid();
  const ts = stamp();
  mkdirSync(dir, { recursive: true });
  cur = path.join(dir, `${ts.replace(/[:.]/g, "-")}_${id}.jsonl`);
  save({ type: "session", version: 3, id, timestamp: ts, cwd });
}

function ensure() {
  if (!cur) fresh();
  else if (!existsSync(cur)) {
    const id = uuid();
    save({ type: "session", version: 3, id, timestamp: stamp(), cwd });
  }
}

function turn(text) {
  ensure();
  save(message("user", text));
  save(message("assistant", `reply to ${text}`, { stopReason: "stop" }));
}

function run(c) {
  switch (c.op) {
    case "turn":
      turn(c.text);
      break;
    case "user":
      ensure();
      save(message("user", c.text));
      break;
    case "error":
      ensure();
      save(message("user", c.text));
      for (let i = 0; i < 4; i++)
        save(message("assistant", "", { stopReason: "error", errorMessage: "overloaded" }));
      break;
    case "name":
      ensure();
      save({ type: "session_info", id: uuid().slice(0, 8), timestamp: stamp(), name: c.name });
      break;
    case "new":
      fresh();
      turn(c.text);
      break;
    case "open":
      cur = c.path;
      turn(c.text);
      break;
    case "exit":
      ack({ done: c.seq, file: cur });
      process.exit(c.code);
  }
  ack({ done: c.seq, file: cur });
}

let offset = 0;
let partial = "";
function poll() {
  let data;
  try {
    data = readFileSync(cmdFile);
  } catch {
    return;
  }
  if (data.length <= offset) return;
  partial += data.subarray(offset).toString("utf8");
  offset = data.length;
  const lines = partial.split("\n");
  partial = lines.pop();
  for (const line of lines) if (line.trim()) run(JSON.parse(line));
}

mkdirSync(ctl, { recursive: true });
ack({ ready: true, pid: process.pid, file: cur });
setInterval(poll, 20);
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (text) => {
  text = text.trim();
  if (!text) return;
  turn(text);
  ack({ stdin: text, file: cur });
});
