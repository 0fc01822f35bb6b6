// Fake interactive pi for the scripting verbs: every line typed on stdin is
// one turn. Like pi, the session file first appears when the first reply is
// saved (header, user message and reply flushed together); later turns save
// the user message at once and the reply AMUX_TEST_DELAY ms later (default
// 800). Prints `ready>` when it can take input and `reply: TEXT` per turn.
// With AMUX_TEST_SPIN=MS, a turn prints a spinner character every MS ms
// while it runs (the session is never quiet) and saves its user message
// only with the reply (input the agent has not picked up yet).
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const delay = Number(process.env.AMUX_TEST_DELAY ?? 800);
const spin = Number(process.env.AMUX_TEST_SPIN ?? 0);
const cwd = process.cwd();
const dir = path.join(
  process.env.PI_CODING_AGENT_DIR,
  "sessions",
  `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`,
);
const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}_turns-${process.pid}.jsonl`);
const header = { type: "session", version: 3, id: `turns-${process.pid}`, timestamp: new Date().toISOString(), cwd };
const save = (obj) => appendFileSync(file, JSON.stringify(obj) + "\n");
const message = (role, text, extra = {}) => ({
  type: "message",
  timestamp: new Date().toISOString(),
  message: { role, content: [{ type: "text", text }], ...extra },
});

let pending = [header];
const rl = readline.createInterface({ input: process.stdin });
process.stdout.write("ready>\n");
rl.on("line", (text) => {
  const user = message("user", text);
  if (pending) pending.push(user);
  else if (!spin) save(user);
  let spinner = null;
  if (spin) {
    let n = 0;
    spinner = setInterval(() => process.stdout.write(`\r${"|/-\\"[n++ % 4]}`), spin);
  }
  setTimeout(() => {
    if (spinner) {
      clearInterval(spinner);
      process.stdout.write("\r");
      if (!pending) save(user);
    }
    const reply = message("assistant", `echo ${text}`, { stopReason: "stop" });
    if (pending) {
      mkdirSync(dir, { recursive: true });
      [...pending, reply].forEach(save);
      pending = null;
    } else save(reply);
    process.stdout.write(`reply: ${text}\n`);
  }, delay);
});
rl.on("close", () => process.exit(0));
