#!/usr/bin/python3
"""Wait until a BIRD protocol's imported-route count reaches a target; print how long it took.

  bird_wait.py SOCKET PROTO TARGET [--drop] [--interval MS] [--timeout S] [--since-ns NS|-]
               [--pid PID]

Connects once to BIRD's control socket (the path given to `bird -s`) and sends
`show protocols all PROTO` every --interval ms (2 by default) over that one connection until the
protocol's imported-route count (the first channel's `Routes: N imported` line) is TARGET or more
(with --drop: TARGET or less, e.g. 0 once a session's routes are flushed). A protocol whose
channel is not up shows no `Routes:` line: that counts as 0. Unlike a `birdc ... | awk` loop it
forks nothing per poll, so on a small machine the poll does not take CPU from BIRD or the peer
it is measuring.

Prints, on stdout, the milliseconds (one decimal) from the start moment to the reply that showed
the count. The start moment is --since-ns NS (wall clock in ns, as `date +%s%N`, taken by the
caller just before it releases the routes); without it, this program's own start. With
`--since-ns -` it connects and checks the protocol first, prints `ready`, then reads NS from a
line of stdin and only then starts polling: the caller can start the interpreter (about 0.1 s of
CPU) before the interval it measures.

Exit status: 0 the count was reached; 1 --timeout s (default 300, counted from the start moment)
passed first; 3 the process --pid PID is gone (checked at every poll); in both failure cases the
elapsed ms is still printed and stderr names the socket, the protocol and the last count.
2: usage error, no socket, or BIRD refused the command (e.g. no such protocol).

BIRD's control protocol, as it replies: a greeting `0001 BIRD <version> ready.`, then for each
command one reply of lines `DDDD-text` (a 4-digit code, more lines follow), lines starting with a
space (more text for the last code), and a last line `DDDD text` (code then space; `0000` for a
plain end). Codes 8000 and up are errors (8xxx run-time, 9xxx syntax).
"""
import argparse
import os
import re
import socket
import sys
import time

ROUTES = re.compile(rb"^\s*Routes:\s+(\d+) imported")


class BirdError(Exception):
    pass


class Bird:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise BirdError(f"{path}: cannot connect: {e.strerror}") from None
        self.file = self.sock.makefile("rb")
        greeting = self.reply()
        if not greeting or greeting[0][0] != 1:
            raise BirdError(f"{path}: unexpected greeting {greeting!r}")

    def reply(self):
        """The lines of one reply, as (code, text); a continuation line keeps the previous code."""
        lines, code = [], None
        while True:
            line = self.file.readline()
            if not line:
                raise BirdError(f"{self.path}: BIRD closed the connection")
            line = line.rstrip(b"\n")
            if line[:1] == b" ":
                lines.append((code, line[1:]))
                continue
            if len(line) < 5 or not line[:4].isdigit() or line[4:5] not in b" -":
                raise BirdError(f"{self.path}: unexpected line {line!r}")
            code = int(line[:4])
            lines.append((code, line[5:]))
            if line[4:5] == b" ":
                return lines

    def command(self, cmd):
        self.sock.sendall(cmd.encode() + b"\n")
        lines = self.reply()
        code, text = lines[-1]
        if code >= 8000:
            raise BirdError(f"{self.path}: `{cmd}`: {code} {text.decode(errors='replace')}")
        return lines


def imported(bird, proto):
    lines = bird.command(f"show protocols all {proto}")
    if not any(code == 1002 and text.split()[:1] == [proto.encode()] for code, text in lines):
        raise BirdError(f"{bird.path}: no protocol {proto} in the reply to `show protocols all {proto}`")
    for _, text in lines:
        m = ROUTES.match(text)
        if m:
            return int(m.group(1))
    return 0   # no channel up: nothing imported


def main():
    t_self = time.time_ns()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("socket", help="BIRD's control socket")
    ap.add_argument("proto", help="protocol name, e.g. inj")
    ap.add_argument("target", type=int, help="imported-route count to wait for")
    ap.add_argument("--drop", action="store_true", help="wait for the count to drop to TARGET or below")
    ap.add_argument("--interval", type=float, default=2.0, help="ms between polls (default 2)")
    ap.add_argument("--timeout", type=float, default=300.0, help="s from the start moment (default 300)")
    ap.add_argument("--since-ns", metavar="NS", help="start moment, ns since the epoch (`date +%%s%%N`); "
                    "`-`: print `ready` once connected, then read it from stdin")
    ap.add_argument("--pid", type=int, help="give up (exit 3) if this process is gone")
    args = ap.parse_args()
    reached = (lambda c: c <= args.target) if args.drop else (lambda c: c >= args.target)
    what = f"{args.proto} imported routes {'<=' if args.drop else '>='} {args.target}"

    try:
        bird = Bird(args.socket)
        count = imported(bird, args.proto)   # the protocol exists: fail now, not at the timeout
        if args.since_ns == "-":
            print("ready", flush=True)
            line = sys.stdin.readline()
            if not line.strip().isdigit():
                raise BirdError(f"--since-ns -: expected ns on stdin, got {line!r}")
            start = int(line)
        elif args.since_ns is not None:
            if not args.since_ns.isdigit():
                raise BirdError(f"--since-ns: expected ns since the epoch or -, got {args.since_ns!r}")
            start = int(args.since_ns)
        else:
            start = t_self
        deadline = start + int(args.timeout * 1e9)
        interval = args.interval / 1000
        while True:
            count = imported(bird, args.proto)
            now = time.time_ns()
            if reached(count):
                print(f"{(now - start) / 1e6:.1f}")
                return 0
            if now >= deadline:
                print(f"{(now - start) / 1e6:.1f}")
                print(f"bird_wait: timeout after {args.timeout:g} s waiting for {what} on {args.socket}: "
                      f"last count {count}", file=sys.stderr)
                return 1
            if args.pid is not None:
                try:
                    os.kill(args.pid, 0)
                except PermissionError:
                    pass   # it exists (someone else's)
                except ProcessLookupError:
                    print(f"{(now - start) / 1e6:.1f}")
                    print(f"bird_wait: process {args.pid} is gone while waiting for {what} on {args.socket}: "
                          f"last count {count}", file=sys.stderr)
                    return 3
            time.sleep(interval)
    except (OSError, BirdError, ValueError) as e:
        print(f"bird_wait: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
