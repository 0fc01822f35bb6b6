// Checks hook/hook.mjs without the Rust runner, by playing the runner:
// copies the hook to <tmp>/cache/hook-test.mjs, makes a FIFO per run and holds
// its read end open (O_NONBLOCK, drained after the agent exits), sets
// AMUX_RUNNER_SOCK / AMUX_HOOK_FIFO and appends the hook tokens to the user's
// NODE_OPTIONS=--no-warnings and BUN_OPTIONS=--smol, then runs the fake agents
// (pi_esm.mjs, pi_cjs.cjs, surface.mjs) under node and bun. Every hooked run is
// compared with the same run without the hook: stdout, stderr, exit status.
//
// usage: node tests/agents/check-hook.mjs   (or: bun tests/agents/check-hook.mjs)
// env:   BUN=/path/to/bun (default: `bun` on PATH); RUNTIMES="node bun"
// Prints one line per check, exits 1 if any failed.
import * as fs from "node:fs";
import * as http from "node:http";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(join(tmpdir(), "amux-hook-"));
const hook = join(tmp, "cache", "hook-test.mjs");
fs.mkdirSync(dirname(hook));
fs.copyFileSync(join(here, "../../hook/hook.mjs"), hook);
const bins = { node: "node", bun: process.env.BUN || "bun" };
const runtimes = (process.env.RUNTIMES || "node bun").split(" ");
const USER_ENV = { NODE_OPTIONS: "--no-warnings", BUN_OPTIONS: "--smol" };
let failures = 0;
let n = 0;

function check(name, ok, detail) {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : `\n     ${JSON.stringify(detail)}`}`);
}

// Runs `bin file args` in a fresh cwd. mode: "plain" (user env only), "fifo",
// "http" (socket only), "none" (socket var set, nothing listening),
// "unarmed" (hook token and FIFO set, no AMUX_RUNNER_SOCK). `whileAlive(child,
// events)` is awaited before stdin is closed (for --wait-stdin runs).
async function run(rt, file, args, mode, whileAlive, user = USER_ENV) {
  const dir = join(tmp, `run${n++}`);
  fs.mkdirSync(dir);
  const env = { ...process.env, PI_CODING_AGENT_DIR: join(dir, "pi") };
  delete env.NODE_OPTIONS;
  delete env.BUN_OPTIONS;
  Object.assign(env, user);
  env.CHILD_JSONL = join(dir, "child.jsonl");
  delete env.AMUX_RUNNER_SOCK;
  delete env.AMUX_HOOK_FIFO;
  const fifo = join(dir, "ev.fifo");
  let rfd = -1;
  let server = null;
  const posted = [];
  if (mode !== "plain") {
    // As the runner does: append ` <token>`, or set just the token.
    const add = (name, token) => (env[name] = env[name] ? `${env[name]} ${token}` : token);
    add("NODE_OPTIONS", `--import file://${hook}`);
    add("BUN_OPTIONS", `--preload ${hook}`);
  }
  if (mode === "fifo" || mode === "unarmed") {
    spawnSync("mkfifo", [fifo]);
    rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    env.AMUX_HOOK_FIFO = fifo;
  }
  if (mode !== "plain" && mode !== "unarmed") env.AMUX_RUNNER_SOCK = join(dir, "s.sock");
  if (mode === "http") server = await listen(env.AMUX_RUNNER_SOCK, posted);
  const events = () => (rfd >= 0 ? drain(rfd) : posted.splice(0));
  const child = spawn(bins[rt], [join(here, file), ...args], { cwd: dir, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise((res) => {
    child.on("close", (status) => res(status));
    child.on("error", () => res(-1)); // e.g. runtime not found
  });
  const got = [];
  if (whileAlive) await whileAlive(child, got, () => got.push(...events()));
  child.stdin.end("go\n");
  const status = await closed;
  got.push(...events());
  if (rfd >= 0) fs.closeSync(rfd);
  server?.close();
  return { dir, stdout, stderr, status, events: got };
}

function drain(fd) {
  let text = "";
  const buf = Buffer.alloc(65536);
  for (;;) {
    let k = 0;
    try {
      k = fs.readSync(fd, buf, 0, buf.length, null);
    } catch {} // EAGAIN: empty
    if (k <= 0) break;
    text += buf.toString("utf8", 0, k);
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

function listen(path, posted) {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/shim/event") posted.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  return new Promise((res) => server.listen(path, () => res(server)));
}

// Polls until `pred(events)` holds or 5 s pass.
async function until(poll, got, pred) {
  for (let i = 0; i < 100 && !pred(got); i++) {
    poll();
    await new Promise((r) => setTimeout(r, 50));
  }
}

const list = (r) => fs.readFileSync(join(r.dir, "list"), "utf8").split("\n").filter(Boolean);
const ops = (evs) => evs.map((e) => (e.op === "hello" ? "hello" : `${e.op} ${e.path}`));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Runs args plain and hooked; checks identical output, returns the hooked run.
async function both(rt, file, args, mode = "fifo", whileAlive, user) {
  const plain = await run(rt, file, args, "plain", whileAlive && ((c, g, p) => setTimeout(p, 10)), user);
  const hooked = await run(rt, file, args, mode, whileAlive, user);
  const keep = (r) => ({ stdout: r.stdout, stderr: r.stderr, status: r.status });
  check(`${rt} ${file} ${args.join(" ")} [${mode}]: same output`, same(keep(plain), keep(hooked)), [keep(plain), keep(hooked)]);
  return hooked;
}

function checkEvents(name, r, rt, expected) {
  const hello = r.events[0];
  const helloOk = hello?.op === "hello" && hello.runtime === rt && typeof hello.version === "string";
  const pidsOk = r.events.every((e) => e.pid === hello?.pid && e.runtime === rt);
  check(name, helloOk && pidsOk && same(ops(r.events.slice(1)), expected), r.events);
}

for (const rt of runtimes) {
  const found = !spawnSync(bins[rt], ["--version"]).error;
  check(`${rt}: runtime found (${bins[rt]})`, found, "set BUN=/path/to/bun or RUNTIMES=node");
  if (!found) continue;
  for (const agent of ["pi_esm.mjs", "pi_cjs.cjs"]) {
    const tag = `${rt} ${agent}`;
    let r = await both(rt, agent, ["--rebind", "--list", "list", "--exit-code", "3"]);
    const [a, b] = list(r);
    checkEvents(`${tag}: hello, then A B A`, r, rt, [`append ${a}`, `append ${b}`, `append ${a}`]);
    r = await both(rt, agent, ["--appends", "1000", "--list", "list"]);
    checkEvents(`${tag}: 1000 appends add nothing`, r, rt, [`append ${list(r)[0]}`]);
    r = await both(rt, agent, ["--exit-now", "--exit-code", "5"]);
    check(`${tag}: --exit-now delivers`, r.events.length === 2 && r.events[1].op === "append", r.events);
    r = await both(rt, agent, ["--spawn-child", "--spawn-self"]);
    const kids = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const clean = kids.length === 2 && kids.every((k) => same([k.NODE_OPTIONS, k.BUN_OPTIONS, k.sock, k.fifo], ["--no-warnings", "--smol", false, false]));
    check(`${tag}: children see the user's env`, clean, kids);
    check(`${tag}: children stay silent`, r.events.every((e) => e.path !== join(r.dir, "child.jsonl")), r.events);
    r = await both(rt, agent, ["--spawn-child", "--spawn-self"], "fifo", null, {});
    const kids2 = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const unset = kids2.length === 2 && kids2.every((k) => k.NODE_OPTIONS === null && k.BUN_OPTIONS === null);
    check(`${tag}: children see NODE_OPTIONS/BUN_OPTIONS unset when the user had none`, unset, kids2);
    r = await both(rt, agent, ["--project-file"]);
    const project = join(r.dir, "project", "data.jsonl");
    check(`${tag}: project/data.jsonl reported`, ops(r.events).at(-1) === `append ${project}`, r.events);
    r = await both(rt, agent, ["--rebind", "--exit-code", "2"], "none");
    check(`${tag}: no FIFO, no socket: runs normally`, r.status === 2, r);
    r = await both(rt, agent, ["--rebind"], "unarmed");
    check(`${tag}: loaded but not armed: silent`, r.events.length === 0, r.events);
    const alive = (c, got, poll) => until(poll, got, (g) => g.length >= 2 && c.exitCode === null);
    r = await both(rt, agent, ["--wait-stdin", "--list", "list"], "fifo", alive);
    checkEvents(`${tag}: --wait-stdin: reported while alive`, r, rt, [`append ${list(r)[0]}`]);
    const four = (c, got, poll) => until(poll, got, (g) => g.length >= 4);
    r = await both(rt, agent, ["--rebind", "--wait-stdin", "--list", "list"], "http", four);
    const [ha, hb] = list(r);
    checkEvents(`${tag}: HTTP fallback: hello, A B A`, r, rt, [`append ${ha}`, `append ${hb}`, `append ${ha}`]);
  }
  const d = join(tmp, `surface-${rt}`);
  fs.mkdirSync(d);
  const r = await run(rt, "surface.mjs", [d], "fifo");
  const expected = ["write ws", "append as", "append fd", "write fdw", "write cw", "append ca", "append co",
    "write pw", "append pa", "write ph", "append st", "append rel", "append end"];
  check(`${rt} surface.mjs: exits 0`, r.status === 0 && r.stdout === "surface done\n", r);
  checkEvents(`${rt} surface.mjs: every write API, once each`, r, rt, expected.map((e) => e.replace(" ", ` ${d}/`) + ".jsonl"));
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(failures ? `${failures} FAILED` : "all passed");
process.exit(failures ? 1 : 0);
