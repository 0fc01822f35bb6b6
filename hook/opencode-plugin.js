// amux plugin for OpenCode: tells `amux run` which conversation OpenCode
// holds and what it does, from OpenCode's own bus events.
//
// How it works. The runner starts OpenCode with OPENCODE_CONFIG_DIR naming
// a directory of amux's cache whose plugin/amux.js is this file (OpenCode
// adds that directory to the user's own, it replaces none of them), with
// AMUX_HOOK_FIFO (the runner's FIFO) and AMUX_OPENCODE_LOG (a directory of
// amux's state) in its environment. OpenCode's `event` hook hands every bus
// event to `event` below, which does two things:
//  - keeps a log per conversation, <AMUX_OPENCODE_LOG>/<sessionID>.jsonl:
//    the events that say what the conversation holds (created, title, a
//    message begun or completed, an error, the turn's end), cut to the
//    fields amux reads. OpenCode keeps every conversation in one SQLite
//    database; amux follows one file per conversation, and this is it;
//  - writes one JSON line per moment to the FIFO ({"op":"hook","event":
//    <OpenCode's event type>, …}): the log's file when OpenCode starts or
//    turns to a conversation, busy, idle, a permission asked or replied,
//    an error. One write of less than 4096 bytes: atomic on a FIFO.
// A subagent's conversation (a session with a parentID, the task tool's)
// is not the terminal's: only its permission questions are passed on (the
// dialog is on this terminal). Without AMUX_HOOK_FIFO (OpenCode started by
// hand with this directory) nothing is done. Never throws into OpenCode,
// never prints, never waits.

import { appendFileSync, closeSync, constants, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

const FIFO = process.env.AMUX_HOOK_FIFO;
const LOG = process.env.AMUX_OPENCODE_LOG;
const MAX_LINE = 4000;

let fd = null;
let current = null; // the conversation this terminal shows
const parents = new Map(); // sessionID -> parentID, as OpenCode said
const failed = new Set(); // sessions whose turn failed, until the next begins
const logged = new Map(); // sessionID -> its last title, user message logged

function send(fields) {
  try {
    if (fd === null) fd = openSync(FIFO, constants.O_WRONLY | constants.O_NONBLOCK);
    let line = JSON.stringify({ op: "hook", ...fields });
    if (line.length > MAX_LINE) line = JSON.stringify({ op: "hook", event: fields.event });
    writeSync(fd, line + "\n");
  } catch {
    // No reader (the runner is gone) or a full FIFO: the moment is lost,
    // OpenCode goes on. Reopen at the next one.
    try { if (fd !== null) closeSync(fd); } catch {}
    fd = null;
  }
}

function logFile(sessionID) {
  return /^[A-Za-z0-9_-]+$/.test(sessionID) ? join(LOG, sessionID + ".jsonl") : null;
}

function log(sessionID, type, properties) {
  const file = logFile(sessionID);
  if (!file) return null;
  try {
    mkdirSync(LOG, { recursive: true, mode: 0o700 });
    appendFileSync(file, JSON.stringify({ type, properties }) + "\n", { mode: 0o600 });
    return file;
  } catch {
    return null;
  }
}

// This terminal turns to `sessionID` (created here, or prompted in).
function hold(sessionID, event) {
  if (current === sessionID) return;
  const file = log(sessionID, "session.current", { sessionID });
  if (!file) return;
  current = sessionID;
  send({ event, path: file });
}

function info(i) {
  return {
    id: i.id, sessionID: i.sessionID, role: i.role, finish: i.finish,
    time: i.time, parentID: i.parentID, title: i.title,
    error: i.error ? { name: i.error.name, data: { message: String(i.error.data?.message ?? "") } } : undefined,
  };
}

function text(e) {
  const m = e.metadata ?? {};
  const t = m.command ?? m.filepath ?? m.url ?? (e.patterns ?? []).join(" ");
  return typeof t === "string" ? t.slice(0, 400) : undefined;
}

function on(e) {
  const p = e.properties ?? {};
  const sid = p.sessionID ?? p.info?.sessionID ?? p.info?.id;
  if (!sid) return;
  if (e.type === "session.created" || e.type === "session.updated") {
    if (p.info?.parentID) parents.set(sid, p.info.parentID);
  }
  const sub = parents.has(sid);
  switch (e.type) {
    case "permission.asked":
      return send({ event: e.type, tool: String(p.permission ?? ""), text: text(p), reason: sub ? "subagent" : undefined });
    case "permission.replied":
      return send({ event: e.type, reason: sub ? "subagent" : String(p.reply ?? "") });
  }
  if (sub) return;
  switch (e.type) {
    case "session.created":
      logged.set(sid + " title", p.info?.title);
      log(sid, e.type, { info: info(p.info) });
      return hold(sid, e.type);
    case "session.updated":
      // OpenCode says the session again at every step: its title once.
      if (p.info?.title && logged.get(sid + " title") !== p.info.title) {
        logged.set(sid + " title", p.info.title);
        log(sid, e.type, { info: { id: sid, title: p.info.title } });
      }
      return;
    case "message.updated": {
      const i = p.info ?? {};
      if (i.role === "user" && logged.get(sid + " user") !== i.id) {
        // Repeated as OpenCode adds a summary to it: logged once.
        logged.set(sid + " user", i.id);
        failed.delete(sid);
        hold(sid, "session.current");
        log(sid, e.type, { info: info(i) });
      } else if (i.time?.completed) log(sid, e.type, { info: info(i) });
      return;
    }
    case "session.status":
      if (p.status?.type === "busy" && sid === current) send({ event: "session.busy" });
      return;
    case "session.idle":
      log(sid, e.type, { sessionID: sid });
      if (sid === current) send({ event: e.type, reason: failed.has(sid) ? "error" : undefined });
      return;
    case "session.error": {
      const name = p.error?.name;
      if (name === "MessageAbortedError") return;
      const message = String(p.error?.data?.message ?? name ?? "error").slice(0, 400);
      failed.add(sid);
      log(sid, e.type, { sessionID: sid, error: { name, data: { message } } });
      if (sid === current) send({ event: e.type, text: message });
      return;
    }
  }
}

export const AmuxPlugin = async () => {
  if (!FIFO || !LOG) return {};
  return {
    event: async ({ event }) => {
      try {
        on(event);
      } catch {}
    },
  };
};
