#!/usr/bin/env python3
"""Stand-in agent for the daemon tests, installed as `pi`, `claude` and
`codex` in a test's bin directory (see daemon.rs).

Python ignores NODE_OPTIONS, so the runner's preload never loads here: no
shim events, which is what the non-shim attribution paths need. The
program does only what it is told, one JSON command at a time: first the
arguments that look like JSON objects, then one command per line on stdin
(the PTY; echo is turned off so commands never reach the scrollback).

Commands (one key names the command):
  {"say": TEXT}                    print TEXT (then a newline)
  {"append": PATH, "data": TEXT}   open O_APPEND, write, close (pi, Claude)
  {"hold_append": PATH, "data": T} open O_RDWR|O_APPEND|O_CREAT, write T,
                                   keep the fd open (Codex's rollout writer)
  {"hold_read": PATH}              keep a read-only fd open (an old rollout)
  {"pidfile": DIR, "obj": {...}}   write DIR/<own pid>.json = obj + "pid"
                                   atomically (Claude's sessions/<pid>.json)
  {"sleep_then_pidfile": DIR, …}   the same 200 ms later (a rewrite that
                                   follows the Enter that asked for it)
  {"exit": CODE}                   exit with CODE
Other arguments are ignored (a test may pad the command line). A line that
is no JSON object is printed back as `typed: 'LINE'` (keys typed at it).
"""
import json
import os
import sys
import termios
import time

held = []


def run(cmd):
    if "say" in cmd:
        print(cmd["say"], flush=True)
    elif "append" in cmd:
        path = cmd["append"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write(cmd["data"])
    elif "hold_append" in cmd:
        path = cmd["hold_append"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, cmd.get("data", "").encode())
        held.append(fd)
    elif "hold_read" in cmd:
        held.append(os.open(cmd["hold_read"], os.O_RDONLY))
    elif "pidfile" in cmd or "sleep_then_pidfile" in cmd:
        if "sleep_then_pidfile" in cmd:
            time.sleep(0.2)
        d = cmd.get("pidfile") or cmd["sleep_then_pidfile"]
        obj = dict(cmd["obj"], pid=os.getpid())
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "%d.json" % os.getpid())
        with open(path + ".tmp", "w") as f:
            json.dump(obj, f)
        os.rename(path + ".tmp", path)
    elif "exit" in cmd:
        sys.exit(cmd["exit"])


def main():
    try:
        attrs = termios.tcgetattr(0)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(0, termios.TCSANOW, attrs)
    except termios.error:
        pass
    for arg in sys.argv[1:]:
        if arg.startswith("{"):
            run(json.loads(arg))
    print("stand-in ready", flush=True)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        line = line.strip("\n")
        try:
            cmd = json.loads(line) if line.strip() else None
        except ValueError:
            cmd = None
        if isinstance(cmd, dict):
            run(cmd)
        elif line:
            # Keys typed at it (an answer to its "dialog"), shown so a test
            # can see exactly what reached the agent.
            print("typed: %r" % line, flush=True)


main()
