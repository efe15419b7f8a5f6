#!/usr/bin/python3
"""The wire floor for inject.sh: a minimal BGP-4 speaker that costs nothing per prefix at send time.

  floor.py --peer ADDR --peer-as AS --as AS --count N [--port P] [--local ADDR] [--router-id ID]
           [--next-hop ADDR] [--med MED] [--go FIFO]
  floor.py --selftest

Before it even connects, it encodes every UPDATE for N distinct /32s from 10.0.0.0 upwards (the
prefixes gen_routes.py writes) with one attribute set, the one rhi sends in inject.sh: ORIGIN IGP,
AS_PATH one AS_SEQUENCE [its AS] in 4-octet ASNs, NEXT_HOP, MULTI_EXIT_DISC; each UPDATE carries
as many 5-octet /32 NLRI as fit in 4096 octets (RFC 4271 section 4.3, RFC 6793). Then it connects
(active side, from --local if given) to a passive peer, sends OPEN (version 4, hold time 90, the
Multiprotocol IPv4 unicast and 4-octet AS capabilities; My AS = AS_TRANS if the AS needs 4
octets), waits for the peer's OPEN (which must offer 4-octet ASNs) and KEEPALIVE, answers with a
KEEPALIVE, and keeps the session up from a thread (KEEPALIVE every hold time / 3). Once a line can
be read from --go (a FIFO; at once without it), it writes the whole pre-encoded buffer with one
sendall, then keeps the session open until the peer closes it or SIGTERM (a Cease NOTIFICATION,
then exit 0). Whatever the peer sends is read and dropped; a NOTIFICATION from it is printed.
Progress goes to stderr.

What the receiver does with that burst is then the receiver's own limit: no injector that has to
turn routes into UPDATEs can be faster.

--selftest decodes what the encoder writes (OPEN, UPDATEs) and checks it against the spec and
gen_routes.py's prefixes; no network.
"""
import argparse
import signal
import socket
import struct
import sys
import threading
import time

MARKER = b"\xff" * 16
HEADER_LEN = 19
MAX_MESSAGE_LEN = 4096
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
AS_TRANS = 23456
HOLD_TIME = 90
CAP_MULTIPROTOCOL, CAP_FOUR_OCTET_AS = 1, 65
AFI_IPV4, SAFI_UNICAST = 1, 1
ORIGIN, AS_PATH, NEXT_HOP, MULTI_EXIT_DISC = 1, 2, 3, 4
WELL_KNOWN, OPTIONAL = 0x40, 0x80   # attribute flags: well-known transitive, optional non-transitive
AS_SEQUENCE = 2
ORIGIN_IGP = 0
FIRST_PREFIX = 0x0A000000   # 10.0.0.0, as gen_routes.py


def message(kind, body=b""):
    length = HEADER_LEN + len(body)
    assert length <= MAX_MESSAGE_LEN, length
    return MARKER + struct.pack("!HB", length, kind) + body


def encode_open(asn, router_id, hold_time=HOLD_TIME):
    caps = (struct.pack("!BBHBB", CAP_MULTIPROTOCOL, 4, AFI_IPV4, 0, SAFI_UNICAST)
            + struct.pack("!BBI", CAP_FOUR_OCTET_AS, 4, asn))
    params = struct.pack("!BB", 2, len(caps)) + caps   # one Capabilities optional parameter
    my_as = asn if asn <= 0xFFFF else AS_TRANS
    return message(OPEN, struct.pack("!BHH4sB", 4, my_as, hold_time, socket.inet_aton(router_id), len(params))
                   + params)


def encode_attributes(asn, next_hop, med):
    return (struct.pack("!BBBB", WELL_KNOWN, ORIGIN, 1, ORIGIN_IGP)
            + struct.pack("!BBBBBI", WELL_KNOWN, AS_PATH, 6, AS_SEQUENCE, 1, asn)
            + struct.pack("!BBB4s", WELL_KNOWN, NEXT_HOP, 4, socket.inet_aton(next_hop))
            + struct.pack("!BBBI", OPTIONAL, MULTI_EXIT_DISC, 4, med))


def encode_updates(n, asn, next_hop, med, first=FIRST_PREFIX):
    """All UPDATEs for n /32s from `first` upwards, as one buffer, and how many there are."""
    attrs = encode_attributes(asn, next_hop, med)
    head_len = HEADER_LEN + 2 + 2 + len(attrs)   # + withdrawn routes length + total path attribute length
    per_update = (MAX_MESSAGE_LEN - head_len) // 5
    nlri = struct.Struct("!BI").pack
    out = []
    for start in range(0, n, per_update):
        count = min(per_update, n - start)
        head = MARKER + struct.pack("!HBHH", head_len + 5 * count, UPDATE, 0, len(attrs)) + attrs
        out.append(head + b"".join([nlri(32, first + i) for i in range(start, start + count)]))
    return b"".join(out), len(out)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("the peer closed the connection")
        buf += chunk
    return bytes(buf)


def recv_message(sock):
    header = recv_exact(sock, HEADER_LEN)
    length, kind = struct.unpack("!HB", header[16:])
    if header[:16] != MARKER or not HEADER_LEN <= length <= MAX_MESSAGE_LEN:
        raise ValueError(f"bad message header {header.hex()}")
    return kind, recv_exact(sock, length - HEADER_LEN)


def decode_open(body):
    """(version, my_as, hold_time, router_id, {capability code: [values]})"""
    version, my_as, hold, bgp_id, params_len = struct.unpack("!BHH4sB", body[:10])
    params, caps, i = body[10:10 + params_len], {}, 0
    while i < len(params):
        ptype, plen = params[i], params[i + 1]
        if ptype == 2:
            value, j = params[i + 2:i + 2 + plen], 0
            while j < len(value):
                code, clen = value[j], value[j + 1]
                caps.setdefault(code, []).append(value[j + 2:j + 2 + clen])
                j += 2 + clen
        i += 2 + plen
    return version, my_as, hold, socket.inet_ntoa(bgp_id), caps


def decode_notification(body):
    code, sub = body[0], body[1] if len(body) > 1 else 0
    return f"NOTIFICATION {code}/{sub} data {body[2:].hex() or '-'}"


def log(text):
    print(f"floor: {text}", file=sys.stderr, flush=True)


def run(args):
    t = time.monotonic()
    updates, count = encode_updates(args.count, args.asn, args.next_hop, args.med)
    log(f"{args.count} prefixes in {count} UPDATEs, {len(updates)} octets, encoded in {time.monotonic() - t:.2f} s")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if args.local:
        sock.bind((args.local, 0))
    sock.connect((args.peer, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lock = threading.Lock()   # one writer at a time: a KEEPALIVE never lands inside an UPDATE
    sock.sendall(encode_open(args.asn, args.router_id))
    kind, body = recv_message(sock)
    if kind != OPEN:
        sys.exit(f"floor: expected OPEN, got {decode_notification(body) if kind == NOTIFICATION else kind}")
    version, peer_as, peer_hold, peer_id, caps = decode_open(body)
    four_octet = [struct.unpack("!I", v)[0] for v in caps.get(CAP_FOUR_OCTET_AS, []) if len(v) == 4]
    if not four_octet:
        sys.exit("floor: the peer does not offer 4-octet ASNs; the pre-encoded AS_PATH needs them")
    if four_octet[0] != args.peer_as:
        sys.exit(f"floor: the peer is AS {four_octet[0]}, not {args.peer_as}")
    hold = min(HOLD_TIME, peer_hold)
    sock.sendall(message(KEEPALIVE))
    kind, body = recv_message(sock)
    if kind != KEEPALIVE:
        sys.exit(f"floor: expected KEEPALIVE, got {decode_notification(body) if kind == NOTIFICATION else kind}")
    log(f"Established with {args.peer} AS {peer_as if peer_as != AS_TRANS else four_octet[0]} "
        f"(router id {peer_id}, hold time {hold} s)")

    closed = threading.Event()

    def keepalives():
        while hold and not closed.wait(hold / 3):
            with lock:
                sock.sendall(message(KEEPALIVE))

    def reader():
        try:
            while True:
                kind, body = recv_message(sock)
                if kind == NOTIFICATION:
                    log(f"the peer sent {decode_notification(body)}")
        except (OSError, EOFError, ValueError) as e:
            log(f"session ended: {e}")
        closed.set()

    for target in (keepalives, reader):
        threading.Thread(target=target, daemon=True).start()

    state = {"mid_send": False}
    try:
        if args.go:
            with open(args.go) as go:
                go.readline()
        t = time.monotonic()
        with lock:
            state["mid_send"] = True
            sock.sendall(updates)
            state["mid_send"] = False
        log(f"sent {len(updates)} octets in {time.monotonic() - t:.3f} s")
        closed.wait()
        return 1   # the peer ended the session
    finally:
        # SIGTERM (SystemExit): a Cease / Administrative Shutdown, unless it cut an UPDATE short.
        if not closed.is_set() and not state["mid_send"] and lock.acquire(timeout=1):
            try:
                sock.sendall(message(NOTIFICATION, bytes([6, 2])))
            except OSError:
                pass
        sock.close()


def selftest():
    def check(cond, what):
        if not cond:
            sys.exit(f"selftest FAILED: {what}")

    # OPEN: version, My AS (AS_TRANS above 65535), hold time, router id, the two capabilities.
    for asn, field in ((65010, 65010), (4200000000, AS_TRANS)):
        msg = encode_open(asn, "127.249.0.2")
        check(msg[:16] == MARKER and struct.unpack("!HB", msg[16:19]) == (len(msg), OPEN), "OPEN header")
        version, my_as, hold, bgp_id, caps = decode_open(msg[19:])
        check((version, my_as, hold, bgp_id) == (4, field, 90, "127.249.0.2"), f"OPEN fields for AS {asn}")
        check(caps == {1: [bytes([0, 1, 0, 1])], 65: [struct.pack("!I", asn)]}, "OPEN capabilities")
    check(encode_open(65010, "127.249.0.2").hex() ==
          "ffffffffffffffffffffffffffffffff" "002b" "01" "04" "fdf2" "005a" "7ff90002" "0e"
          "020c" "0104" "00010001" "4104" "0000fdf2", "OPEN bytes")
    check(message(KEEPALIVE) == MARKER + b"\x00\x13\x04", "KEEPALIVE bytes")

    # The attribute set, byte for byte (flags, type, length, value).
    attrs = encode_attributes(65010, "192.0.2.10", 100)
    check(attrs == bytes([0x40, 1, 1, 0,                                  # ORIGIN IGP
                          0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xf2,             # AS_PATH SEQ [65010], 4-octet
                          0x40, 3, 4, 192, 0, 2, 10,                      # NEXT_HOP 192.0.2.10
                          0x80, 4, 4, 0, 0, 0, 100]), "attribute bytes")  # MULTI_EXIT_DISC 100

    # UPDATEs: decode everything back, compare with gen_routes.py's prefixes.
    def prefix(i):   # as gen_routes.py
        return socket.inet_ntoa(struct.pack("!I", 0x0A000000 + i))

    for n in (1, 808, 809, 810, 5000, 100000):
        buf, count = encode_updates(n, 65010, "192.0.2.10", 100)
        got, sizes, i = [], [], 0
        while i < len(buf):
            check(buf[i:i + 16] == MARKER, "UPDATE marker")
            length, kind = struct.unpack("!HB", buf[i + 16:i + 19])
            check(kind == UPDATE and HEADER_LEN + 4 <= length <= MAX_MESSAGE_LEN, f"UPDATE header {length} {kind}")
            body = buf[i + 19:i + length]
            withdrawn_len = struct.unpack("!H", body[:2])[0]
            check(withdrawn_len == 0, "no withdrawn routes")
            attrs_len = struct.unpack("!H", body[2:4])[0]
            check(body[4:4 + attrs_len] == attrs, "UPDATE attributes")
            nlri = body[4 + attrs_len:]
            check(len(nlri) % 5 == 0, "whole /32 NLRI")
            for j in range(0, len(nlri), 5):
                check(nlri[j] == 32, "prefix length 32")
                got.append(socket.inet_ntoa(nlri[j + 1:j + 5]))
            sizes.append(length)
            i += length
        check(i == len(buf) and len(sizes) == count, "message count")
        check(got == [prefix(k) for k in range(n)], f"prefixes for N={n}")
        # Tight: 4096 − 19 − 4 − 27 = 4046 octets of NLRI, 809 /32s, in every UPDATE but the last.
        check(all(s == 19 + 4 + 27 + 809 * 5 for s in sizes[:-1]) and sizes[-1] <= MAX_MESSAGE_LEN, "packing")
        check(count == -(-n // 809), f"{count} UPDATEs for N={n}")
    log("selftest ok (OPEN, KEEPALIVE, attributes, UPDATEs for N = 1 .. 100000 decode back to gen_routes.py's prefixes)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--selftest", action="store_true", help="check the encoder against a decoder and exit")
    p.add_argument("--peer", help="the passive peer's address")
    p.add_argument("--port", type=int, default=179)
    p.add_argument("--peer-as", type=int)
    p.add_argument("--as", dest="asn", type=int, help="the local AS")
    p.add_argument("--local", help="local address to bind (and the default router id)")
    p.add_argument("--router-id")
    p.add_argument("--count", type=int, help="N: how many /32s (10.0.0.0 upwards)")
    p.add_argument("--next-hop", default="192.0.2.10")
    p.add_argument("--med", type=int, default=100)
    p.add_argument("--go", help="FIFO (or file): send once a line is read from it")
    args = p.parse_args()
    if args.selftest:
        return selftest()
    missing = [o for o in ("peer", "peer_as", "asn", "count") if getattr(args, o) is None]
    if missing:
        p.error("missing " + ", ".join("--" + o.replace("_", "-").replace("asn", "as") for o in missing))
    args.router_id = args.router_id or args.local
    if not args.router_id:
        p.error("--router-id (or --local) is needed")

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
