// amux preload: tells `amux run` which *.jsonl files a node/bun agent writes.
//
// How it works. The runner appends ` --import file:///…/hook-X.mjs` to
// NODE_OPTIONS and ` --preload /…/hook-X.mjs` to BUN_OPTIONS, so this module
// runs before the agent's own code. At load it:
//  1. removes AMUX_RUNNER_SOCK, AMUX_HOOK_FIFO and its own option tokens from
//     process.env, so the agent's children see the user's original
//     environment and never report: only the process that armed reports —
//     except in an agent's first process when AMUX_HOOK_RELAUNCH names a
//     variable it lacks (the agent sets it in the copy of itself it
//     re-executes, which then arms and strips as above);
//  2. arms only if AMUX_RUNNER_SOCK was set: opens AMUX_HOOK_FIFO (a FIFO the
//     runner holds open for reading) O_WRONLY|O_NONBLOCK and sends `hello`;
//  3. replaces the write functions on the shared `fs` / `fs.promises` objects,
//     obtained through createRequire. A static `import "node:fs"` here would
//     make bun freeze the unpatched exports. On node, syncBuiltinESMExports()
//     updates `import { appendFileSync } from "fs"` even if that module was
//     already loaded.
// Each wrapper runs the original first and returns/throws its result
// unchanged, then reports the target if it ends in `.jsonl`, made absolute,
// and differs from the path reported last. Reads are never reported. fds and
// FileHandles opened for writing a .jsonl are remembered so later writes
// through them are reported. A depth counter lets fs's internal calls (node's
// appendFileSync → writeFileSync) pass straight through: one write is one report.
// Once armed it also leaves `{ send(event) }` at
// globalThis[Symbol.for("amux.hook")] for pi's amux extension
// (pi-extension.mjs), which loads after the variables are gone: its events
// (`session`, `agent_start`, `agent_end`) travel the same way, with our pid.
// A `session` event (pi switched conversations) also forgets the last path,
// so the next write is reported even if it is to a file reported before.
// Delivery: one JSON line per event, written synchronously to the FIFO
// (< PIPE_BUF, hence atomic; EAGAIN or any error drops it), so nothing is lost
// when the agent calls process.exit() right after a write. Without a usable
// FIFO, events go as pipelined `POST /shim/event` requests on one unref'd
// keep-alive connection to the runner socket: in order, but asynchronous, so
// events emitted just before exit may be lost. Never throws into the agent,
// never prints, never keeps the event loop alive, never changes exit codes.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const fs = require("fs");
const nodePath = require("path");
const { fileURLToPath } = require("url");
const C = fs.constants;
const env = process.env;
const runtime = typeof globalThis.Bun === "undefined" ? "node" : "bun";
let depth = 0; // > 0 while inside a wrapped fs call
let memo = { raw: null, abs: null }; // last absolute .jsonl path resolved

const sock = env.AMUX_RUNNER_SOCK;
const fifo = env.AMUX_HOOK_FIFO;
// An agent that re-executes itself (Gemini) marks the copy that does the
// work with the variable named here: until that copy, the preload is
// handed on (the first process only supervises it); from it on, as always.
const relaunch = env.AMUX_HOOK_RELAUNCH;
const handOn = Boolean(sock && relaunch && !env[relaunch]);
try {
  if (!handOn) {
    delete env.AMUX_RUNNER_SOCK;
    delete env.AMUX_HOOK_FIFO;
    delete env.AMUX_HOOK_RELAUNCH;
    const self = fileURLToPath(import.meta.url);
    stripOwnTokens("NODE_OPTIONS", self);
    stripOwnTokens("BUN_OPTIONS", self);
  }
  if (sock) arm(openTransport(sock, fifo));
} catch {}

// Drops `--import X` / `--preload X` (or `=X`) where X names this file, with
// the whitespace before it: the runner appended ` <token>` to what the user had.
function stripOwnTokens(name, self) {
  const value = env[name];
  if (value === undefined) return;
  const realpath = (p) => { try { return fs.realpathSync(p); } catch { return p; } };
  const isSelf = (arg) => {
    try {
      const p = arg.startsWith("file:") ? fileURLToPath(arg) : nodePath.resolve(arg);
      return p === self || realpath(p) === realpath(self); // node gives us the realpath
    } catch {
      return false;
    }
  };
  const token = /(^|\s+)(--import|--preload)(=|\s+)(\S+)/g;
  const out = value.replace(token, (m, _s, _f, _e, arg) => (isSelf(arg) ? "" : m));
  if (out === value) return;
  if (out === "") delete env[name];
  else env[name] = out;
}

// Returns send(line). Runs before patching, so it keeps the original functions.
function openTransport(sock, fifo) {
  const { openSync, writeSync } = fs;
  let fd = -1;
  try { if (fifo) fd = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK); } catch {}
  if (fd >= 0) {
    return (line) => {
      if (Buffer.byteLength(line) >= 4096) return; // not atomic: could interleave
      try { writeSync(fd, line); } catch {}
    };
  }
  const net = require("net");
  let conn = null;
  return (line) => {
    if (!conn) {
      const c = (conn = net.connect(sock));
      c.unref();
      c.on("error", () => {});
      c.on("close", () => conn === c && (conn = null));
      c.resume(); // discard the 204s
    }
    const head = "POST /shim/event HTTP/1.1\r\nHost: amux\r\nContent-Type: application/json\r\n";
    conn.write(`${head}Content-Length: ${Buffer.byteLength(line)}\r\n\r\n${line}`);
  };
}

function arm(send) {
  const { pid } = process;
  const version = runtime === "bun" ? globalThis.Bun.version : process.versions.node;
  send(`${JSON.stringify({ op: "hello", pid, runtime, version })}\n`);
  let last = null;
  const report = (op, path) => {
    if (!op || path === null || path === last) return;
    last = path;
    send(`${JSON.stringify({ op, pid, path, runtime })}\n`);
  };
  try {
    Object.defineProperty(globalThis, Symbol.for("amux.hook"), {
      value: Object.freeze({
        send(event) {
          if (event?.op === "session") last = null;
          send(`${JSON.stringify({ ...event, pid })}\n`);
        },
      }),
    });
  } catch {}

  const fds = new Map(); // fd -> { path, op } of a .jsonl opened for writing
  const handles = new WeakMap(); // FileHandle -> { path, op }
  const fdReport = (fd, op) => {
    const t = fds.get(fd);
    if (t) report(op ?? t.op, t.path);
  };
  // writeFile*/appendFile* take a path, an fd or a FileHandle; an fd's own
  // open mode decides its op unless the call itself is an append.
  const target = (file, op) => {
    const append = op === "append" ? op : null;
    if (typeof file === "number") return fdReport(file, append);
    const h = file && handles.get(file);
    report(h ? append ?? h.op : op, h ? h.path : jsonl(file));
  };
  const track = (path, flags, fd) => {
    const p = jsonl(path);
    const op = flagOp(flags ?? "r", null);
    if (p && op) fds.set(fd, { path: p, op });
    else fds.delete(fd); // fd numbers are reused
  };
  const trackHandle = (path, flags, fh) => {
    const p = jsonl(path);
    const op = flagOp(flags ?? "r", null);
    if (!p || !op) return;
    handles.set(fh, { path: p, op });
    for (const m of ["write", "writev", "writeFile", "appendFile"]) {
      wrap(fh, m, () => report(m === "appendFile" ? "append" : op, p));
    }
  };

  wrap(fs, "openSync", (a, fd) => track(a[0], a[1], fd));
  wrap(fs, "open", null, (a) => {
    const i = a.length - 1;
    const cb = a[i];
    if (i < 1 || typeof cb !== "function") return;
    a[i] = function (err, fd) {
      if (!err) track(a[0], i > 1 ? a[1] : undefined, fd);
      return Reflect.apply(cb, this, arguments);
    };
  });
  for (const name of ["closeSync", "close"]) wrap(fs, name, (a) => fds.delete(a[0]));
  for (const name of ["writeSync", "write", "writevSync", "writev"]) {
    wrap(fs, name, (a) => fdReport(a[0], null));
  }
  for (const [obj, suffix] of [[fs, "Sync"], [fs, ""], [fs.promises, ""]]) {
    wrap(obj, `writeFile${suffix}`, (a) => target(a[0], flagOp(optFlag(a[2]), "write")));
    wrap(obj, `appendFile${suffix}`, (a) => target(a[0], "append"));
  }
  wrap(fs.promises, "open", (a, promise) => {
    promise.then((fh) => trackHandle(a[0], a[1], fh), () => {});
  });
  wrap(fs, "createWriteStream", (a, stream) => {
    const op = flagOp(optFlag(a[1], "flags") ?? "w", null);
    const p = jsonl(a[0]);
    if (p && op) wrap(stream, "write", () => report(op, p));
  });
  require("module").syncBuiltinESMExports?.();
}

// Replaces obj[name]: `before(args)` may rewrite the arguments, the original
// runs, then `after(args, result)` reports. Calls nested inside a wrapped call
// (fs's own internals) go straight to the original.
function wrap(obj, name, after, before) {
  const orig = obj?.[name];
  if (typeof orig !== "function") return;
  const wrapper = function (...args) {
    if (depth > 0) return Reflect.apply(orig, this, args);
    try { before?.(args); } catch {}
    depth++;
    let result;
    try {
      result = Reflect.apply(orig, this, args);
    } finally {
      depth--;
    }
    try { after?.(args, result); } catch {}
    return result;
  };
  for (const s of Object.getOwnPropertySymbols(orig)) wrapper[s] = orig[s];
  Object.defineProperty(wrapper, "name", { value: orig.name });
  obj[name] = wrapper;
}

// Absolute path of a string/Buffer/URL path ending in .jsonl, else null.
function jsonl(p) {
  if (typeof p !== "string") {
    if (p instanceof URL) p = p.protocol === "file:" ? fileURLToPath(p) : "";
    else if (Buffer.isBuffer(p)) p = p.toString();
    else return null;
  }
  if (!p.endsWith(".jsonl")) return null;
  if (p === memo.raw) return memo.abs; // agents append to one file over and over
  const abs = nodePath.resolve(p);
  if (p.startsWith("/")) memo = { raw: p, abs }; // a relative one depends on cwd
  return abs;
}

// "append" or "write" for flags that open for writing, null for read-only;
// `dflt` when no flags were given.
function flagOp(flags, dflt) {
  if (flags == null) return dflt;
  if (typeof flags === "number") {
    if (flags & C.O_APPEND) return "append";
    return flags & (C.O_WRONLY | C.O_RDWR) ? "write" : null;
  }
  const s = String(flags);
  return s.includes("a") ? "append" : /[w+]/.test(s) ? "write" : null;
}

function optFlag(opts, key = "flag") {
  return opts && typeof opts === "object" ? opts[key] : undefined;
}
