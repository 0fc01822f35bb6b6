// amux extension for pi: tells `amux run` which conversation pi holds and
// what pi does, the moment pi knows, not at its next write.
//
// How it works. The runner starts pi with `-e /…/pi-extension.mjs` beside
// the preload (hook.mjs, same directory) and only while the preload is
// armed. pi loads this file with each session it starts, so these handlers
// see every switch. Each op names pi's current session name (`name`,
// null when unnamed: `/name` before the first prompt is in no file yet):
//  - session_start (startup, reload, new, resume, fork) sends
//    {"op":"session","path":…,"reason":…,"previous":…}, with pi's own
//    command line (`argv`) at startup: the path is the file pi will write,
//    which after /new does not exist yet;
//  - agent_start / agent_end send {"op":"agent_start"} / {"op":"agent_end"};
//  - user_bash (a `!cmd`) sends {"op":"bash","text":cmd}, and
//    {"op":"bash_end"} once pi has recorded its result (pi has no event
//    for a command's end, so its session's last entry is looked at every
//    BASH_POLL_MS while one runs);
//  - an Enter at an idle pi that pi acted on in no visible way within
//    SETTLE_MS (`/name`, a picker opened or closed, `/session`, an empty
//    line) sends {"op":"taken"}: built-in commands reach no event of
//    pi's. A prompt reaches `input`, a `!cmd` `user_bash`, and a switch or
//    a compaction begins (session_before_*) well within SETTLE_MS; those
//    answer the line themselves (a compaction with session_compact);
//  - Escape after an attempt that failed, before pi tries again, cancels
//    pi's retry (pi says so on screen only): {"op":"retry_cancelled",
//    "text":error}.
// Events go through the preload's own transport: the preload removed the
// runner's variables from the environment before pi ran, so it leaves its
// send function at globalThis[Symbol.for("amux.hook")] (only in the
// process that armed). Without it — no preload, no runner, pi started by
// hand with -e — nothing is registered. Never throws into pi, never
// prints, never waits, never keeps pi alive (timers are unref'd), never
// answers for pi (every handler returns nothing).

const HOOK = Symbol.for("amux.hook");
/** Enter and Escape as pi's TUI gets them (plain, or kitty's protocol). */
const ENTER = new Set(["\r", "\n", "\x1b[13u"]);
const ESCAPE = new Set(["\x1b", "\x1b[27u"]);
/** Measured with pi 0.73.1: `input` and `user_bash` come within the
 * Enter's own tick, session_before_switch/_fork/_compact 13–25 ms after. */
const SETTLE_MS = 50;
const BASH_POLL_MS = 50;

let current = null; // the context of the session pi holds now
let lines = 0; // Enters at an idle pi
let answered = 0; // the last of them pi visibly acted on
let compacting = false; // a compaction an Enter asked for is running
let bash = null; // the timer watching a running `!cmd`
let failed = null; // the error pi's last attempt ended with, until it tries again

function send(op, fields) {
  try {
    let name = null;
    try {
      name = current?.sessionManager.getSessionName() ?? null;
    } catch {}
    globalThis[HOOK]?.send({ op, name, ...fields });
  } catch {}
}

function lastError(messages) {
  const last = Array.isArray(messages) ? messages[messages.length - 1] : null;
  return last?.stopReason === "error" ? String(last.errorMessage ?? "error") : null;
}

function stopBash() {
  if (bash) clearInterval(bash);
  bash = null;
}

// pi records a `!cmd`'s result as its session's last entry when it ends
// (cancelled or not); while pi streams it defers that, and the turn's own
// end says more.
function watchBash(ctx) {
  const sm = ctx.sessionManager;
  const start = sm.getLeafId();
  bash = setInterval(() => {
    try {
      const leaf = sm.getLeafEntry();
      if (leaf?.id === start || leaf?.message?.role !== "bashExecution") return;
    } catch {}
    stopBash();
    send("bash_end");
  }, BASH_POLL_MS);
  bash.unref?.();
}

function key(data, ctx) {
  if (ESCAPE.has(data) && failed !== null && ctx.isIdle()) {
    send("retry_cancelled", { text: failed });
    failed = null;
  }
  if (!ENTER.has(data) || bash || !ctx.isIdle()) return;
  failed = null;
  const line = ++lines;
  const timer = setTimeout(() => {
    try {
      if (answered < line && !bash && ctx.isIdle()) send("taken");
    } catch {}
    answered = Math.max(answered, line);
  }, SETTLE_MS);
  timer.unref?.();
}

export default function amux(pi) {
  if (!globalThis[HOOK]) return;
  const acted = () => {
    answered = lines;
  };
  pi.on("session_start", (event, ctx) => {
    current = ctx;
    stopBash();
    compacting = false;
    let path = null;
    try {
      path = ctx.sessionManager.getSessionFile() ?? null; // null: --no-session
    } catch {}
    const reason = event?.reason ?? null;
    const argv = reason === "startup" ? process.argv.slice(2) : undefined;
    send("session", { path, reason, previous: event?.previousSessionFile ?? null, argv });
    try {
      ctx.ui.onTerminalInput((data) => {
        try {
          key(data, ctx);
        } catch {}
      });
    } catch {}
  });
  pi.on("input", acted);
  pi.on("session_before_switch", acted);
  pi.on("session_before_fork", acted);
  pi.on("session_before_compact", () => {
    compacting = answered < lines;
    acted();
  });
  pi.on("session_compact", () => {
    if (compacting) send("taken");
    compacting = false;
  });
  pi.on("agent_start", () => {
    acted();
    failed = null;
    send("agent_start");
  });
  pi.on("agent_end", (event) => {
    failed = lastError(event?.messages);
    send("agent_end");
  });
  pi.on("user_bash", (event, ctx) => {
    acted();
    try {
      if (bash || !ctx.isIdle()) return;
      send("bash", { text: String(event?.command ?? "") });
      watchBash(ctx);
    } catch {}
  });
}
