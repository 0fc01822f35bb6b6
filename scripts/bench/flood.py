#!/usr/bin/env python3
"""Floods of half-sent requests on the daemon's socket, for bench.sh.

Usage: flood.py SOCKET DAEMON_PID CONNECTIONS ROUNDS

Each round opens CONNECTIONS connections that each send the first 4 KB of
a request head and stop, holds them for a second, then closes them all and
waits two seconds. Prints one JSON object: rss_before_kb, then per round
rss_open_kb (all open) and rss_closed_kb (after they closed) as lists,
refused (connections the daemon closed or answered before the client
closed them: past the 256 it lets wait for a request, or its cap), and error on failure.
"""

import json
import socket
import sys
import time


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def main():
    path, pid, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    out = {"rss_before_kb": rss(pid), "rss_open_kb": [], "rss_closed_kb": [], "refused": 0}
    head = b"GET /v1/sessions HTTP/1.1\r\nHost: bench\r\nX-Pad: " + b"a" * 4000
    try:
        for _ in range(rounds):
            conns = []
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                s.send(head)
                conns.append(s)
            time.sleep(1)
            out["rss_open_kb"].append(rss(pid))
            for s in conns:
                s.setblocking(False)
                try:
                    out["refused"] += s.recv(1) != b"" or 0
                except BlockingIOError:
                    pass
                except OSError:
                    out["refused"] += 1
                s.close()
            time.sleep(2)
            out["rss_closed_kb"].append(rss(pid))
    except Exception as e:  # report, never throw: the bench never asserts
        out["error"] = str(e)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
