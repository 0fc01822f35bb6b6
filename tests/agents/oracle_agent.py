#!/usr/bin/env python3
"""Claude- and Codex-style stand-in for the churn oracle (tests/oracle/),
installed as `claude` and `codex` in the test's bin directory; the name it
runs under picks the behaviour. Python: the preload never loads, so what
the daemon knows comes from the agent-provided sources (Claude's pidfile,
Codex's open rollout).

claude: keeps $CLAUDE_CONFIG_DIR/sessions/<pid>.json ({sessionId, cwd, pid})
from the start, like Claude, and appends the transcript to
projects/<cwd, non-alphanumerics as ->/<sessionId>.jsonl, one
open-append-close per line; `--resume ID` keeps ID. `clear` is a new
sessionId in the pidfile; a clean exit removes the pidfile.
codex: creates its rollout under $CODEX_HOME/sessions/YYYY/MM/DD/ at start
(session_meta) and holds it open O_RDWR|O_APPEND; `resume ID` reopens the
rollout named by ID; `new` opens another writer and keeps the old one.

Control as oracle_pi.mjs: JSON commands appended to
$AMUX_TEST_DIR/ctl/$AMUX_SESSION_ID.cmd, acks appended to ….ack.
Commands: turn {text}, user {text}, new {text} (claude: /clear then a
turn; codex: /new then a turn), ask {text, late_ms} (a tool call, then claude's
pidfile says `status: waiting`, codex writes an OSC 9 "Approval
requested" — `late_ms`: the question first, the call that late; after an
ask, claude keeps `status` current: busy, idle),
exit {code}.
"""
import datetime
import glob
import json
import os
import sys
import time
import uuid

KIND = os.path.basename(sys.argv[0])
SID = os.environ["AMUX_SESSION_ID"]
CTL = os.path.join(os.environ["AMUX_TEST_DIR"], "ctl")
CWD = os.getcwd()
held = []
state = {"file": None, "sid": None, "status": None}


def ack(obj):
    with open(os.path.join(CTL, SID + ".ack"), "a") as f:
        f.write(json.dumps(obj) + "\n")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso():
    return now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def mangle(cwd):
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in cwd)


def claude_bind(sid):
    conf = os.environ["CLAUDE_CONFIG_DIR"]
    state["sid"] = sid
    state["file"] = os.path.join(conf, "projects", mangle(CWD), sid + ".jsonl")
    d = os.path.join(conf, "sessions")
    os.makedirs(d, exist_ok=True)
    claude_pidfile()


def claude_pidfile():
    d = os.path.join(os.environ["CLAUDE_CONFIG_DIR"], "sessions")
    obj = {"pid": os.getpid(), "sessionId": state["sid"], "cwd": CWD,
           "startedAt": 1795469322196, "version": "2.1.330", "kind": "interactive",
           "entrypoint": "cli"}
    if state["status"]:
        obj["status"] = state["status"]
    path = os.path.join(d, "%d.json" % os.getpid())
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(path + ".tmp", path)


def claude_line(obj):
    os.makedirs(os.path.dirname(state["file"]), exist_ok=True)
    base = {"sessionId": state["sid"], "cwd": CWD, "timestamp": iso(), "version": "2.1.330",
            "uuid": str(uuid.uuid4()), "isSidechain": False, "userType": "external"}
    base.update(obj)
    with open(state["file"], "a") as f:
        f.write(json.dumps(base) + "\n")


def claude_user(text):
    claude_line({"type": "user", "message": {"role": "user", "content": text}})


def claude_turn(text):
    claude_user(text)
    claude_line({"type": "assistant", "message": {"role": "assistant", "type": "message",
                 "content": [{"type": "text", "text": "reply to " + text}],
                 "stop_reason": "end_turn"}})


def codex_write(obj):
    obj = dict(obj, timestamp=iso())
    os.write(held[-1], (json.dumps(obj) + "\n").encode())


def codex_hold(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    held.append(os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644))
    state["file"] = path


def codex_new():
    t = now()
    tid = str(uuid.uuid4())
    path = os.path.join(os.environ["CODEX_HOME"], "sessions", t.strftime("%Y/%m/%d"),
                        "rollout-%s-%s.jsonl" % (t.strftime("%Y-%m-%dT%H-%M-%S"), tid))
    codex_hold(path)
    codex_write({"type": "session_meta", "payload": {"id": tid, "timestamp": iso(), "cwd": CWD,
                 "originator": "codex-tui", "cli_version": "0.169.0"}})


def codex_user(text):
    codex_write({"type": "event_msg", "payload": {"type": "task_started"}})
    codex_write({"type": "response_item", "payload": {"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": text}]}})


def codex_turn(text):
    codex_user(text)
    codex_write({"type": "response_item", "payload": {"type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "reply to " + text}]}})
    codex_write({"type": "event_msg", "payload": {"type": "task_complete"}})


def own_args():
    """The arguments without `-c KEY=VALUE` overrides (amux adds Codex's
    notification settings at launch, before the subcommand)."""
    args, out = sys.argv[1:], []
    while args:
        if args[0] == "-c" and len(args) > 1:
            args = args[2:]
        else:
            out.append(args.pop(0))
    return out


def start():
    args = own_args()
    if KIND == "claude":
        sid = args[args.index("--resume") + 1] if "--resume" in args else str(uuid.uuid4())
        claude_bind(sid)
    elif "resume" in args[:-1]:
        # `codex [options] resume ID`: a resume keeps the user's options.
        sid = args[args.index("resume") + 1]
        pattern = os.path.join(os.environ["CODEX_HOME"], "sessions", "*", "*", "*",
                               "rollout-*-%s.jsonl" % sid)
        codex_hold(sorted(glob.glob(pattern))[0])
    else:
        codex_new()


def claude_status(status):
    """After an ask, claude keeps its pidfile's status current."""
    if state["status"]:
        state["status"] = status
        claude_pidfile()


def ask(text, late_ms):
    """The tool call's line, then the question; `late_ms`: the question
    first and the line that many ms after (Claude's pidfile leads its
    transcript, Codex's rollout writer may lag its OSC 9)."""
    def call():
        if KIND == "claude":
            claude_line({"type": "assistant", "message": {"role": "assistant",
                         "type": "message", "stop_reason": "tool_use",
                         "content": [{"type": "tool_use", "id": "t1", "name": "Bash",
                                      "input": {"command": text}}]}})
        else:
            codex_write({"type": "response_item", "payload": {"type": "function_call",
                         "name": "exec_command", "arguments": json.dumps({"cmd": text})}})

    def question():
        if KIND == "claude":
            state["status"] = "waiting"
            claude_pidfile()
        else:
            sys.stdout.write("\x1b]9;Approval requested: %s\x07" % text)
            sys.stdout.flush()

    if late_ms is not None:
        question()
        time.sleep(late_ms / 1000)
        call()
    else:
        call()
        question()
    if KIND == "codex":
        # Codex records the response's usage once it completes: after the
        # call, often after the question too. It answers nothing.
        time.sleep(0.005)
        codex_write({"type": "token_usage_record", "payload": {"usage": {"input_tokens": 20}}})


def run(cmd):
    op = cmd["op"]
    claude = KIND == "claude"
    if claude and op in ("turn", "user", "new"):
        claude_status("busy")
    if op == "ask":
        ask(cmd["text"], cmd.get("late_ms"))
    elif op == "turn":
        (claude_turn if claude else codex_turn)(cmd["text"])
    elif op == "user":
        (claude_user if claude else codex_user)(cmd["text"])
    elif op == "new":
        if claude:
            claude_bind(str(uuid.uuid4()))
            claude_turn(cmd["text"])
        else:
            codex_new()
            codex_turn(cmd["text"])
    if claude and op in ("turn", "new"):
        claude_status("idle")
    if op == "exit":
        if claude:
            try:
                os.unlink(os.path.join(os.environ["CLAUDE_CONFIG_DIR"], "sessions",
                                       "%d.json" % os.getpid()))
            except OSError:
                pass
        ack({"done": cmd["seq"], "file": state["file"]})
        sys.exit(cmd["code"])
    ack({"done": cmd["seq"], "file": state["file"]})


def main():
    os.makedirs(CTL, exist_ok=True)
    start()
    ack({"ready": True, "pid": os.getpid(), "file": state["file"]})
    path = os.path.join(CTL, SID + ".cmd")
    offset, partial = 0, b""
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            data = b""
        if data:
            offset += len(data)
            partial += data
            *lines, partial = partial.split(b"\n")
            for line in lines:
                if line.strip():
                    run(json.loads(line))
        time.sleep(0.02)


main()
