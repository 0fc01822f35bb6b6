#!/usr/bin/env python3
"""A burst of files in a session root while `amux ls` is asked, for bench.sh.

Usage: burst.py AMUX DAEMON_PID ROOT FILES

With a daemon running (pid DAEMON_PID) that watches ROOT (a session root:
pi's sessions directory, where a session of the test is), a second
process creates FILES one-line files in ROOT/--burst-- (the depth of the
agent's own conversations) as fast as it can, while this one runs `amux ls --json` back to
back, timing each, until the files are all there and two more seconds
passed. Then the files are removed and, once the daemon has been quiet for
five seconds, its VmRSS is read again. Prints one JSON object: n, p50, p99,
max (ms), failed (ls runs that did not exit 0), create_s, rss_before_kb,
rss_peak_kb (VmHWM), rss_after_kb, and error on failure.
"""

import json
import os
import shutil
import subprocess
import sys
import time


def status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def create(root, files):
    # One directory at the depth the agent's own conversations are (pi:
    # ROOT/--cwd--/FILE), so every file is one the daemon must look at.
    sub = os.path.join(root, "--burst--")
    os.makedirs(sub, exist_ok=True)
    for i in range(files):
        with open(os.path.join(sub, f"2026-12-06T00-00-00-000Z_f{i:07}.jsonl"), "w") as f:
            f.write("{}\n")


def pct(xs, p):
    v = sorted(xs)
    return v[max(0, -(-len(v) * p // 100) - 1)] if v else None


def main():
    amux, pid, root, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    out = {"rss_before_kb": status(pid, "VmRSS")}
    lat, failed = [], 0
    try:
        child = os.fork()
        if child == 0:
            try:
                create(root, files)
            finally:
                os._exit(0)
        start = time.monotonic()
        done_at = None
        while done_at is None or time.monotonic() < done_at + 2:
            t0 = time.perf_counter()
            r = subprocess.run([amux, "ls", "--json"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            lat.append((time.perf_counter() - t0) * 1000)
            failed += r.returncode != 0
            if done_at is None and os.waitpid(child, os.WNOHANG)[0]:
                done_at = time.monotonic()
                out["create_s"] = done_at - start
        out["rss_peak_kb"] = status(pid, "VmHWM")
        shutil.rmtree(os.path.join(root, "--burst--"))
        quiet, last = time.monotonic(), None
        while time.monotonic() < quiet + 5:
            time.sleep(0.5)
            ticks = open(f"/proc/{pid}/stat").read().split()[13:15]
            if ticks != last:
                quiet, last = time.monotonic(), ticks
            if time.monotonic() > start + 120:
                break
        out["rss_after_kb"] = status(pid, "VmRSS")
    except Exception as e:  # report, never throw: the bench never asserts
        out["error"] = str(e)
    out.update(n=len(lat), p50=pct(lat, 50), p99=pct(lat, 99), max=max(lat, default=None),
               failed=failed)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
