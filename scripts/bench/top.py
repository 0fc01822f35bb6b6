#!/usr/bin/env python3
"""A state change redrawn by `amux top`, for scripts/bench.sh (figure 13).

Usage: top.py AMUX [SAMPLES]

A stand-in terminal (a PTY pair, 80x24) runs `amux top`, and `amux
events` runs beside it on a pipe; one thread reads each, stamping what
arrives with one monotonic clock. For each sample a session is started
(`amux run -d -- sleep 600`) and, once top shows its row, killed with
`amux kill`. Timed from just before the kill: the events line that says
the session is dead (alive false), and top's output that redraws its row
as exited. Their difference is what `top` adds to a change the event
stream already carries: receiving it, sorting, drawing the changed lines.

Prints one JSON object: events.p50/p99, top.p50/p99/max (from the kill,
ms), redraw.p50/p99/max (top minus events, ms), n, lost (samples with no
redraw within 5 s), error on failure.
"""

import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import fcntl
import termios


class Stamped:
    """Chunks (or lines) read from a file, each with when it came."""

    def __init__(self, lines):
        self.lines = lines
        self.items = []
        self.cond = threading.Condition()

    def add(self, item):
        with self.cond:
            self.items.append((time.monotonic(), item))
            self.cond.notify_all()

    def wait(self, since, pred, timeout=5.0):
        """The first time after `since` at which pred(everything read since)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                acc = b""
                for t, i in self.items:
                    if t < since:
                        continue
                    if isinstance(i, bytes) and not self.lines:
                        # The chunk that made everything since true.
                        acc += i
                        if pred(acc):
                            return t
                    elif self.lines and pred(i):
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def reader(fd, out):
    f = os.fdopen(fd, "rb", buffering=0)
    buf = b""
    while True:
        try:
            chunk = f.read(65536)
        except OSError:
            return
        if not chunk:
            return
        if not out.lines:
            out.add(chunk)
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out.add(line)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else None


def main():
    amux = sys.argv[1]
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    env = dict(os.environ, TERM=os.environ.get("TERM", "xterm-256color"))
    controller, user = os.openpty()
    fcntl.ioctl(user, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def own_tty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    top = subprocess.Popen([amux, "top"], stdin=user, stdout=user, stderr=user,
                           preexec_fn=own_tty, env=env)
    os.close(user)
    screen, events = Stamped(False), Stamped(True)
    threading.Thread(target=reader, args=(controller, screen), daemon=True).start()
    ev = subprocess.Popen([amux, "events"], stdout=subprocess.PIPE, env=env)
    threading.Thread(target=reader, args=(ev.stdout.fileno(), events), daemon=True).start()
    result = {}
    to_top, to_events, redraw, lost = [], [], [], 0
    try:
        for _ in range(samples):
            started = time.monotonic()
            sid = subprocess.run([amux, "run", "-d", "--", "sleep", "600"], env=env,
                                 capture_output=True, check=True).stdout.decode().strip()
            key = sid.encode()
            if screen.wait(started, lambda b: key in b) is None:
                raise RuntimeError(f"top never showed {sid}")
            time.sleep(0.05)
            t0 = time.monotonic()
            subprocess.run([amux, "kill", sid], env=env, capture_output=True, check=True)
            dead = re.compile(re.escape(key) + rb"[^\n]{0,60}?exited")
            t_top = screen.wait(t0, lambda b: dead.search(b) is not None)

            def gone(line):
                try:
                    s = json.loads(line).get("session") or {}
                except ValueError:
                    return False
                return s.get("id") == sid and s.get("alive") is False

            t_ev = events.wait(t0, gone)
            if t_top is None or t_ev is None:
                lost += 1
                continue
            to_top.append((t_top - t0) * 1000)
            to_events.append((t_ev - t0) * 1000)
            redraw.append((t_top - t_ev) * 1000)
        result = {
            "events.p50": pct(to_events, 0.5), "events.p99": pct(to_events, 0.99),
            "top.p50": pct(to_top, 0.5), "top.p99": pct(to_top, 0.99), "top.max": max(to_top, default=None),
            "redraw.p50": pct(redraw, 0.5), "redraw.p99": pct(redraw, 0.99), "redraw.max": max(redraw, default=None),
            "n": len(to_top), "lost": lost,
        }
    except Exception as e:  # noqa: BLE001 - reported as the figure
        result = {"error": str(e)}
    finally:
        top.terminate()
        ev.terminate()
        top.wait()
        ev.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
