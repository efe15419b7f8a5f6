#!/usr/bin/python3
"""Continuous HTTP traffic to the VIP for integration/demo.sh, one JSON line per request.

Streams, each its own process (independent clients, no shared interpreter lock delaying a request
between its handshake and its first byte), each sending one request every --interval (10 ms):
  new   a NEW TCP connection per request (HTTP/1.1, "Connection: close")
  kaN   --keepalive (4) keep-alive HTTP/1.1 connections, reused while the server keeps them open

Honest accounting (nothing is retried, nothing is hidden):
  * A response that is complete (status line, headers, Content-Length body) is ok. When the server
    says it closes (HTTP/1.0 without keep-alive, or "Connection: close") the client closes too and
    opens a new connection for the next request: a graceful close is not a failure.
  * Before reusing a keep-alive connection, the client looks whether the server has closed it
    (EOF: graceful, reconnect) or reset it (RST: logged as an "idle_reset" line, a reset connection).
  * Anything else is a failed request, with its kind: reset (ECONNRESET/EPIPE: a RST reached us),
    refused, timeout, unreachable, incomplete (EOF before the response was complete), bad_response,
    or the errno name.
  * A RST that arrives after the client has read a complete response and closed its socket cannot
    be seen by any client; it harms no request.

Each line: {"type": "req"|"idle_reset", "t": wall start (s), "mono": monotonic start (s),
"dur": s, "stream": "new"|"kaN", "kind": "new"|"keepalive", "conn": connection serial,
"reused": bool, "ok": bool, "err": null|kind, "reset": bool, "node": body of the page|null,
"server_close": bool}
"timeout": the per-request timeout in force (s).

Per-request timeout: --timeout (1 s), a deadline for the whole request (connect, send, response).
With --timeout-file PATH each stream re-reads PATH (seconds, e.g. "0.1") whenever it changes, before
its next request, so the demo can give one phase a short timeout (the freeze: a request stuck on a
frozen node would otherwise measure the client's timeout, not the routing) and the others the
default. A missing or unreadable file means --timeout.
Runs until SIGTERM/SIGINT, then exits 0. Standard library only.
"""

import argparse
import errno
import itertools
import json
import multiprocessing
import os
import select
import signal
import socket
import sys
import threading
import time

STOP = threading.Event()
CONN_IDS = itertools.count(1)  # per stream (process): a connection is (stream, conn)


class Incomplete(Exception):
    pass


class BadResponse(Exception):
    pass


def classify(exc):
    """(error kind, whether a RST was seen) for an exception raised by a request."""
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset", True
    if isinstance(exc, ConnectionRefusedError):
        return "refused", False
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout", False
    if isinstance(exc, Incomplete):
        return "incomplete", False
    if isinstance(exc, BadResponse):
        return "bad_response", False
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable", False
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno)), exc.errno == errno.ECONNRESET
    return type(exc).__name__, False


def remaining(deadline):
    """Seconds left before the request's deadline (monotonic); a timeout once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("request deadline passed")
    return left


def recv(sock, deadline):
    sock.settimeout(remaining(deadline))
    return sock.recv(65536)


def read_response(sock, deadline):
    """Reads one HTTP response before the deadline; returns (body, server_closes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = recv(sock, deadline)
        if not chunk:
            raise Incomplete("EOF in headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        raise BadResponse(lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" not in headers:
        raise BadResponse("no Content-Length")
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = recv(sock, deadline)
        if not chunk:
            raise Incomplete("EOF in body")
        body += chunk
    conn = headers.get("connection", "")
    if parts[0] == "HTTP/1.0":
        closes = "keep-alive" not in conn
    else:
        closes = "close" in conn
    return body[:length].decode("utf-8", "replace").strip(), closes


class Stream:
    def __init__(self, name, keepalive, args, out):
        self.name = name
        self.keepalive = keepalive
        self.args = args
        self.out = out
        self.sock = None
        self.conn = 0
        self.timeout = args.timeout
        self.timeout_mtime = None
        self.request = (
            "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: rhi-demo-traffic\r\n%s\r\n"
            % (args.host, "" if keepalive else "Connection: close\r\n")
        ).encode()

    def log(self, record):
        record["stream"] = self.name
        record["kind"] = "keepalive" if self.keepalive else "new"
        line = json.dumps(record, separators=(",", ":")) + "\n"
        self.out.write(line)
        self.out.flush()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def idle_check(self):
        """Before reusing a keep-alive connection: has the server closed or reset it meanwhile?"""
        if self.sock is None:
            return
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return
            data = self.sock.recv(1)  # EOF (graceful close) or an error (RST); data would be a bug
            if data:
                self.log({"type": "idle_data", "t": time.time(), "mono": time.monotonic(), "conn": self.conn})
        except OSError as exc:
            kind, reset = classify(exc)
            self.log({"type": "idle_reset" if reset else "idle_error", "t": time.time(),
                      "mono": time.monotonic(), "conn": self.conn, "err": kind, "reset": reset})
        self.close()

    def refresh_timeout(self):
        """--timeout-file: the timeout in force, re-read whenever the file changes."""
        path = self.args.timeout_file
        if not path:
            return
        try:
            mtime = os.stat(path).st_mtime_ns
            if mtime == self.timeout_mtime:
                return
            with open(path, encoding="utf-8") as f:
                value = float(f.read().strip())
            self.timeout_mtime = mtime
            self.timeout = value if value > 0 else self.args.timeout
        except (OSError, ValueError):
            self.timeout_mtime = None
            self.timeout = self.args.timeout

    def one(self):
        self.refresh_timeout()
        if self.keepalive:
            self.idle_check()
        else:
            self.close()
        t, mono = time.time(), time.monotonic()
        reused = self.sock is not None
        record = {"type": "req", "t": t, "mono": mono, "reused": reused, "timeout": self.timeout}
        deadline = mono + self.timeout
        try:
            if self.sock is None:
                self.conn = next(CONN_IDS)
                self.sock = socket.create_connection((self.args.vip, self.args.port), timeout=remaining(deadline))
            record["conn"] = self.conn
            self.sock.settimeout(remaining(deadline))
            self.sock.sendall(self.request)
            node, closes = read_response(self.sock, deadline)
            record.update(ok=True, err=None, reset=False, node=node, server_close=closes)
            if closes or not self.keepalive:
                self.close()
        except Exception as exc:  # every failure is logged with its kind
            kind, reset = classify(exc)
            record.update(conn=self.conn, ok=False, err=kind, reset=reset, node=None, server_close=False,
                          detail=str(exc)[:120])
            self.close()
        record["dur"] = round(time.monotonic() - mono, 6)
        self.log(record)

    def run(self):
        parent = os.getppid()
        next_at = time.monotonic()
        while not STOP.is_set() and os.getppid() == parent:  # stop with the parent, even on SIGKILL
            self.one()
            next_at += self.args.interval
            now = time.monotonic()
            if next_at < now:
                next_at = now  # late: no burst to catch up
            STOP.wait(next_at - now)
        self.close()


def run_stream(name, keepalive, args):
    """One stream in its own process, until SIGTERM/SIGINT."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    # O_APPEND: each line is one write(), so the processes' lines never interleave.
    with open(args.log, "a", encoding="utf-8") as out:
        Stream(name, keepalive, args, out).run()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vip", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--host", default="vip.example")
    parser.add_argument("--log", required=True, help="JSON lines output")
    parser.add_argument("--keepalive", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between requests per stream")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds per request (a deadline)")
    parser.add_argument("--timeout-file", help="re-read before each request when changed: seconds per request")
    args = parser.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    ctx = multiprocessing.get_context("fork")
    specs = [("new", False)] + [("ka%d" % (i + 1), True) for i in range(args.keepalive)]
    procs = [ctx.Process(target=run_stream, args=(name, ka, args), name=name) for name, ka in specs]
    for proc in procs:
        proc.start()
    while not STOP.is_set() and all(p.is_alive() for p in procs):
        STOP.wait(0.2)
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(timeout=args.timeout + 1)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return 0 if all(p.exitcode == 0 for p in procs) else 1


if __name__ == "__main__":
    sys.exit(main())
