// amux extension for pi: tells `amux run` which conversation pi holds and
// when it works, the moment pi knows, not at its next write.
//
// How it works. The runner starts pi with `-e /…/pi-extension.mjs` beside
// the preload (hook.mjs, same directory) and only while the preload is
// armed. pi loads this file with each session it starts, so these handlers
// see every switch:
//  - session_start (startup, reload, new, resume, fork) sends
//    {"op":"session","path":…,"reason":…,"previous":…}: the path is the
//    file pi will write, which after /new does not exist yet;
//  - agent_start / agent_end send {"op":"agent_start"} / {"op":"agent_end"}.
// Events go through the preload's own transport: the preload removed the
// runner's variables from the environment before pi ran, so it leaves its
// send function at globalThis[Symbol.for("amux.hook")] (only in the
// process that armed). Without it — no preload, no runner, pi started by
// hand with -e — every handler does nothing. Never throws into pi, never
// prints, never waits.

const HOOK = Symbol.for("amux.hook");

function send(event) {
  try {
    globalThis[HOOK]?.send(event);
  } catch {}
}

export default function amux(pi) {
  pi.on("session_start", (event, ctx) => {
    let path = null;
    try {
      path = ctx.sessionManager.getSessionFile() ?? null; // null: --no-session
    } catch {}
    send({
      op: "session",
      path,
      reason: event?.reason ?? null,
      previous: event?.previousSessionFile ?? null,
    });
  });
  pi.on("agent_start", () => send({ op: "agent_start" }));
  pi.on("agent_end", () => send({ op: "agent_end" }));
}
