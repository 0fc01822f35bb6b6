// Shared logic of the fake pi agents (pi_esm.mjs, pi_cjs.cjs). It never
// touches `fs` itself: each caller passes the fs functions it got through its
// own import style, so the hook is exercised through that style.
//
// Writes pi-style session files (see src/adapters/pi.rs) under
// $PI_CODING_AGENT_DIR/sessions/--<cwd with / turned into ->--/, one
// appendFileSync per line, then prints `agent done: files=F lines=L` and exits.
// Flags (all optional, same for both programs and runtimes):
//   --rebind        write session A, then session B, then one more line to A
//   --appends N     N more appends to the current file (A)
//   --exit-now      print the line and process.exit() right after the first write
//   --project-file  also append to ./project/data.jsonl (relative to cwd)
//   --spawn-child   run `node -e` that prints {"child":..,"NODE_OPTIONS":..,
//                   "BUN_OPTIONS":..,"sock":bool,"fifo":bool} and appends to
//                   $CHILD_JSONL if set; --spawn-self: same with this runtime
//   --list FILE     write the session paths (in write order, one a line) to FILE
//   --wait-stdin    after writing, wait for one line on stdin before exiting
//   --exit-code N   exit status (default 0)
//   -e FILE         ignored: pi's extension flag, which amux adds for pi
const path = require("path");
const { spawnSync } = require("child_process");

function parse(argv) {
  const o = { appends: 0, exitCode: 0, children: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--rebind") o.rebind = true;
    else if (a === "--appends") o.appends = Number(argv[++i]);
    else if (a === "--exit-now") o.exitNow = true;
    else if (a === "--project-file") o.projectFile = true;
    else if (a === "--spawn-child") o.children.push("node");
    else if (a === "--spawn-self") o.children.push(process.execPath);
    else if (a === "--list") o.list = argv[++i];
    else if (a === "--wait-stdin") o.waitStdin = true;
    else if (a === "--exit-code") o.exitCode = Number(argv[++i]);
    else if (a === "-e") i++;
    else throw new Error(`unknown flag ${a}`);
  }
  return o;
}

const CHILD = `const e = process.env;
if (e.CHILD_JSONL) require("fs").appendFileSync(e.CHILD_JSONL, "{}\\n");
console.log(JSON.stringify({ child: typeof Bun === "undefined" ? "node" : "bun",
  NODE_OPTIONS: e.NODE_OPTIONS ?? null, BUN_OPTIONS: e.BUN_OPTIONS ?? null,
  sock: "AMUX_RUNNER_SOCK" in e, fifo: "AMUX_HOOK_FIFO" in e }));`;

let seq = 0;
function uuidish() {
  const hex = (Date.now() * 1000 + seq++).toString(16).padStart(16, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8000-${process.pid.toString(16).padStart(12, "0")}`;
}

function run(fs, argv) {
  const o = parse(argv);
  const cwd = process.cwd();
  const root = process.env.PI_CODING_AGENT_DIR || path.join(require("os").homedir(), ".pi/agent");
  const dir = path.join(root, "sessions", `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`);
  fs.mkdirSync(dir, { recursive: true });
  const files = [];
  let lines = 0;
  const line = (file, obj) => {
    fs.appendFileSync(file, `${JSON.stringify(obj)}\n`);
    lines++;
    if (o.exitNow) {
      console.log(`agent done: files=1 lines=1`);
      process.exit(o.exitCode);
    }
  };
  const message = (file, role, text) =>
    line(file, { type: "message", id: uuidish().slice(0, 8), timestamp: new Date().toISOString(), message: { role, content: [{ type: "text", text }] } });
  const session = (text) => {
    const id = uuidish();
    const timestamp = new Date().toISOString();
    const file = path.join(dir, `${timestamp.replace(/[:.]/g, "-")}_${id}.jsonl`);
    files.push(file);
    line(file, { type: "session", version: 3, id, timestamp, cwd });
    message(file, "user", text);
    message(file, "assistant", `reply to ${text}`);
    return file;
  };

  const a = session("first");
  if (o.rebind) {
    session("second");
    message(a, "user", "back to first");
    files.push(a);
  }
  for (let i = 0; i < o.appends; i++) message(a, "user", `append ${i}`);
  if (o.projectFile) {
    fs.mkdirSync("project", { recursive: true });
    fs.appendFileSync("project/data.jsonl", "{}\n");
  }
  if (o.list) fs.writeFileSync(o.list, files.map((f) => `${f}\n`).join(""));
  for (const cmd of o.children) spawnSync(cmd, ["-e", CHILD], { stdio: ["ignore", "inherit", "inherit"] });
  console.log(`agent done: files=${new Set(files).size} lines=${lines}`);
  if (!o.waitStdin) {
    process.exitCode = o.exitCode; // a natural exit: the hook must not keep the loop alive
    return;
  }
  process.stdin.once("data", () => process.exit(o.exitCode));
}

module.exports = { run };
