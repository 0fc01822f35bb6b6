// amux preload: tells `amux run` which *.jsonl files a node/bun agent writes.
//
// How it works. The runner appends `--import file:///…/hook-X.mjs` to
// NODE_OPTIONS and `--preload /…/hook-X.mjs` to BUN_OPTIONS, so this module
// runs before the agent's own code. At load it:
//  1. removes AMUX_RUNNER_SOCK, AMUX_HOOK_FIFO and its own option tokens from
//     process.env, so every child the agent starts sees the user's original
//     environment and never reports (only the process that armed reports);
//  2. arms only if AMUX_RUNNER_SOCK was set: opens AMUX_HOOK_FIFO (a FIFO the
//     runner holds open for reading) O_WRONLY|O_NONBLOCK and sends `hello`;
//  3. replaces the write functions on the shared `fs` / `fs.promises` objects
//     (obtained through createRequire, never a static `import "node:fs"`,
//     which would make bun freeze the unpatched exports) and, on node, calls
//     syncBuiltinESMExports() so later `import { appendFileSync } from "fs"`
//     sees the wrappers too.
// Each wrapper calls the original first and returns/throws its result
// unchanged, then reports the target if it ends in `.jsonl`, made absolute,
// and differs from the path reported last. Reads are never reported. A depth
// counter lets fs's internal calls (node's appendFileSync → writeFileSync →
// openSync/writeSync) pass straight through, so one write is reported once.
// Delivery is one JSON line per event, written synchronously to the FIFO
// (< PIPE_BUF, hence atomic; EAGAIN or any error drops it), so nothing is lost
// when the agent calls process.exit() right after a write. Without a usable
// FIFO, events go as pipelined `POST /shim/event` requests over one unref'd
// keep-alive connection to the runner socket (async: a best-effort fallback
// that keeps event order and never holds the event loop open).
// The hook never throws into the agent, never prints, never changes exit codes.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const fs = require("fs");
const nodePath = require("path");
const { fileURLToPath } = require("url");
const env = process.env;
const C = fs.constants;
const isBun = typeof globalThis.Bun !== "undefined";
const runtime = isBun ? "bun" : "node";

const sock = env.AMUX_RUNNER_SOCK;
const fifo = env.AMUX_HOOK_FIFO;
delete env.AMUX_RUNNER_SOCK;
delete env.AMUX_HOOK_FIFO;
try {
  const self = realpath(fileURLToPath(import.meta.url));
  stripOwnTokens("NODE_OPTIONS", self);
  stripOwnTokens("BUN_OPTIONS", self);
} catch {}
if (sock) {
  try {
    arm(openTransport(sock, fifo));
  } catch {}
}

function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

// Drops `--import X` / `--preload X` (or `=X`) where X names this file, with
// the whitespace before it: the runner appended ` <token>` to what the user had.
function stripOwnTokens(name, self) {
  const value = env[name];
  if (value === undefined) return;
  const isSelf = (arg) => {
    try {
      const p = arg.startsWith("file:") ? fileURLToPath(arg) : nodePath.resolve(arg);
      return realpath(p) === self;
    } catch {
      return false;
    }
  };
  const out = value.replace(/(^|\s+)(--import|--preload)(=|\s+)(\S+)/g, (m, _s, _f, _e, arg) =>
    isSelf(arg) ? "" : m,
  );
  if (out === value) return;
  if (out === "") delete env[name];
  else env[name] = out;
}

// Returns send(line). Captures the original fs functions: it runs before patching.
function openTransport(sock, fifo) {
  const { openSync, writeSync } = fs;
  let fd = -1;
  try {
    if (fifo) fd = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK);
  } catch {}
  if (fd >= 0) {
    return (line) => {
      // Longer lines would not be atomic and could interleave: drop them.
      if (Buffer.byteLength(line) >= 4096) return;
      try {
        writeSync(fd, line);
      } catch {}
    };
  }
  const net = require("net");
  let conn = null;
  return (line) => {
    if (!conn) {
      const c = net.connect(sock);
      c.unref();
      c.on("error", () => {});
      c.on("close", () => conn === c && (conn = null));
      c.resume(); // discard the 204s
      conn = c;
    }
    const head = `POST /shim/event HTTP/1.1\r\nHost: amux\r\nContent-Type: application/json\r\n`;
    conn.write(`${head}Content-Length: ${Buffer.byteLength(line)}\r\n\r\n${line}`);
  };
}

function arm(send) {
  const base = { pid: process.pid, runtime };
  const version = isBun ? globalThis.Bun.version : process.versions.node;
  send(JSON.stringify({ op: "hello", ...base, version }) + "\n");

  let last = null;
  const report = (op, path) => {
    if (!op || path === null || path === last) return;
    last = path;
    send(JSON.stringify({ op, pid: base.pid, path, runtime }) + "\n");
  };
  const fds = new Map(); // fd -> { path, op } for .jsonl files opened for writing
  const handles = new WeakMap(); // FileHandle -> { path, op }
  const fdReport = (fd, op) => {
    const t = fds.get(fd);
    if (t) report(op || t.op, t.path);
  };
  // Path-or-fd-or-FileHandle → report with `op`, or the open mode's op for fds.
  const target = (file, op) => {
    if (typeof file === "number") return fdReport(file, op === "append" ? op : null);
    const h = file && handles.get(file);
    if (h) return report(op === "append" ? op : h.op, h.path);
    report(op, jsonl(file));
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
  wrap(fs, "closeSync", (a) => fds.delete(a[0]));
  wrap(fs, "close", (a) => fds.delete(a[0]));
  wrap(fs, "open", null, (a) => {
    const i = a.length - 1;
    const cb = a[i];
    if (typeof cb !== "function") return;
    const flags = i > 1 ? a[1] : undefined;
    a[i] = function (err, fd) {
      if (!err) track(a[0], flags, fd);
      return Reflect.apply(cb, this, arguments);
    };
  });
  for (const name of ["writeSync", "write", "writevSync", "writev"]) {
    wrap(fs, name, (a) => fdReport(a[0], null));
  }
  wrap(fs, "writeFileSync", (a) => target(a[0], flagOp(optFlag(a[2]), "write")));
  wrap(fs, "appendFileSync", (a) => target(a[0], "append"));
  for (const obj of [fs, fs.promises]) {
    wrap(obj, "writeFile", (a) => target(a[0], flagOp(optFlag(a[2]), "write")));
    wrap(obj, "appendFile", (a) => target(a[0], "append"));
  }
  wrap(fs.promises, "open", (a, promise) =>
    promise.then((fh) => trackHandle(a[0], a[1], fh), () => {}),
  );
  wrap(fs, "createWriteStream", (a, stream) => {
    const op = flagOp(optFlag(a[1], "flags") ?? "w", null);
    const p = jsonl(a[0]);
    if (p && op) wrap(stream, "write", () => report(op, p));
  });
  try {
    require("module").syncBuiltinESMExports?.();
  } catch {}
}

// Replaces obj[name] with a wrapper: `before` may rewrite the arguments,
// the original runs, then `after(args, result)` reports. Nested calls made
// by fs itself (depth > 0) go straight to the original.
let depth = 0;
function wrap(obj, name, after, before) {
  const orig = obj && obj[name];
  if (typeof orig !== "function") return;
  const wrapper = function (...args) {
    if (depth > 0) return Reflect.apply(orig, this, args);
    try {
      before?.(args);
    } catch {}
    depth++;
    let result;
    try {
      result = Reflect.apply(orig, this, args);
    } finally {
      depth--;
    }
    try {
      after?.(args, result);
    } catch {}
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
  return nodePath.resolve(p);
}

// "append" / "write" for a writing open flag, else `dflt` (null: read-only).
function flagOp(flags, dflt) {
  if (flags == null) return dflt;
  if (typeof flags === "number") {
    if (flags & C.O_APPEND) return "append";
    return flags & (C.O_WRONLY | C.O_RDWR) ? "write" : null;
  }
  const s = String(flags);
  if (s.includes("a")) return "append";
  return /[w+]/.test(s) ? "write" : null;
}

function optFlag(opts, key = "flag") {
  return opts && typeof opts === "object" ? opts[key] : undefined;
}
