#!/usr/bin/env python3
"""Keystroke echo latency through terminal programs, for scripts/bench.sh.

Usage: echo.py [--samples N] [--warmup N] [--gap S] [--pid LABEL=PID]...
               [--ctx NAME=PID]... NAME=CMD...

A stand-in terminal: for each NAME=CMD it opens a PTY pair (80x24), runs
`sh -c "exec CMD"` with the user side as its controlling terminal, and
waits until CMD has put that terminal in raw mode (ECHO off, read back with
tcgetattr on the controller: Linux answers with the user side's modes).
Then, round robin over all the terminals so that every tool sees the same
machine load, it writes one byte ("x") to a controller and times until the
first byte comes back. Nothing is disabled: what comes back first is
whatever the tool relays first, in practice the echo from the innermost
PTY (the one cat reads, canonical mode with ECHO) - the same path for every
tool. After each sample the terminal is drained until it has been quiet
for a few ms and the "x" was seen, so the next sample starts clean; every
100 bytes a carriage return sends the line to cat (its canonical buffer
holds 4095 bytes) and the echoed line is drained too.

With --gap S each keystroke comes S seconds after the previous answer,
as a typist's do (a tool that only keeps up when kept busy shows it).
Context switches per keystroke: the voluntary and involuntary switches of
every thread of CMD and of each --ctx NAME=PID (the tool's other
processes: a server, a daemon), over the sampled keystrokes, divided by
their number (NAME.cs_per_key).

While every terminal is still open it reads VmRSS of each CMD and of every
--pid given (runner, daemon). Prints one JSON object with flat keys:
NAME.p50, NAME.p99, NAME.max (ms), NAME.n, NAME.lost (samples with no
answer within a second), NAME.rss_kb, LABEL.rss_kb, and error on failure.
"""

import argparse
import fcntl
import json
import os
import select
import signal
import struct
import sys
import termios
import time

QUIET_S = 0.003
ANSWER_S = 1.0
FLUSH_EVERY = 100


class Term:
    def __init__(self, name, cmd):
        self.name = name
        controller, user = os.openpty()
        fcntl.ioctl(user, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        pid = os.fork()
        if pid == 0:
            os.close(controller)
            os.login_tty(user)
            os.environ.setdefault("TERM", "xterm-256color")
            try:
                os.execvp("sh", ["sh", "-c", "exec " + cmd])
            finally:
                os._exit(127)
        os.close(user)
        self.pid, self.fd = pid, controller
        os.set_blocking(controller, False)
        self.poll = select.poll()
        self.poll.register(controller, select.POLLIN)
        self.lat, self.lost, self.typed = [], 0, 0

    def read(self, timeout_s):
        """Bytes available within timeout_s (b"" on timeout or hang-up)."""
        if not self.poll.poll(timeout_s * 1000):
            return b""
        try:
            return os.read(self.fd, 65536)
        except (BlockingIOError, OSError):
            return b""

    def drain(self, quiet_s, want=b""):
        """Reads until quiet for quiet_s and `want` was seen (≤ 2 s)."""
        seen, end, out = want == b"", time.monotonic() + 2, b""
        while time.monotonic() < end:
            got = self.read(quiet_s)
            out += got
            seen = seen or want in got
            if not got and seen:
                break
        return out

    def raw(self, limit_s):
        """None once the tool is in raw mode, else what it printed."""
        end, out = time.monotonic() + limit_s, b""
        while time.monotonic() < end:
            out = (out + self.drain(0.01))[-300:]
            try:
                if not termios.tcgetattr(self.fd)[3] & termios.ECHO:
                    return None
            except termios.error:
                break  # the tool exited: nothing holds the user side
        return out.decode(errors="replace").strip() or "(nothing)"

    def sample(self, keep):
        if self.typed and self.typed % FLUSH_EVERY == 0:
            os.write(self.fd, b"\r")
            self.drain(0.02, b"\n")
        self.typed += 1
        t0 = time.perf_counter_ns()
        os.write(self.fd, b"x")
        got = self.read(ANSWER_S)
        t1 = time.perf_counter_ns()
        if not got:
            self.lost += keep
            self.drain(QUIET_S)
            return
        if keep:
            self.lat.append((t1 - t0) / 1e6)
        if b"x" not in got:
            self.drain(QUIET_S, b"x")
        else:
            self.drain(QUIET_S)

    def close(self):
        os.close(self.fd)
        for sig in (signal.SIGHUP, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
                time.sleep(0.01)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def switches(pid):
    """Context switches of every thread of pid so far (0 once gone)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def pct(xs, p):
    v = sorted(xs)
    return v[max(0, -(-len(v) * p // 100) - 1)] if v else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--pid", action="append", default=[])
    ap.add_argument("--ctx", action="append", default=[])
    ap.add_argument("--gap", type=float, default=0.0)
    ap.add_argument("tools", nargs="+")
    args = ap.parse_args()
    out, terms = {}, []
    try:
        for spec in args.tools:
            name, cmd = spec.split("=", 1)
            terms.append(Term(name, cmd))
        for t in terms:
            said = t.raw(10)
            if said is not None:
                raise RuntimeError(f"{t.name} never put its terminal in raw mode; it said: {said}")
        ctx = {t.name: [t.pid] for t in terms}
        for spec in args.ctx:
            name, pid = spec.split("=", 1)
            ctx[name].append(int(pid))
        counted = lambda t: sum(switches(p) for p in ctx[t.name])
        before = {}
        for i in range(args.warmup + args.samples):
            if i == args.warmup:
                before = {t.name: counted(t) for t in terms}
            for t in terms:
                if args.gap:
                    time.sleep(args.gap)
                t.sample(i >= args.warmup)
        for t in terms:
            out[f"{t.name}.cs_per_key"] = (counted(t) - before[t.name]) / max(1, args.samples)
        for t in terms:
            out[f"{t.name}.rss_kb"] = rss_kb(t.pid)
        for spec in args.pid:
            label, pid = spec.split("=", 1)
            out[f"{label}.rss_kb"] = rss_kb(int(pid))
        for t in terms:
            out[f"{t.name}.p50"] = pct(t.lat, 50)
            out[f"{t.name}.p99"] = pct(t.lat, 99)
            out[f"{t.name}.max"] = max(t.lat, default=None)
            out[f"{t.name}.n"] = len(t.lat)
            out[f"{t.name}.lost"] = t.lost
    except Exception as e:  # report, never throw: the bench never asserts
        out["error"] = str(e)
    finally:
        for t in terms:
            t.close()
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
