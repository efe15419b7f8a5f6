#!/usr/bin/python3
"""Writes N distinct /32s (10.0.0.0 upwards) that share one attribute set, for inject.sh.

  gen_routes.py api N FILE     ExaBGP API text, 1000 prefixes per line:
                               announce attributes next-hop 192.0.2.10 med 100 nlri P1 P2 ...
  gen_routes.py mrt N FILE [PAD]
                               MRT TABLE_DUMP_V2 (RFC 6396) for `gobgp mrt inject global FILE`:
                               one peer, one RIB entry per prefix with ORIGIN IGP, an empty
                               AS_PATH, NEXT_HOP 192.0.2.10, MED 100 (GoBGP prepends its AS);
                               then PAD records for 11.0.0.0/32 upwards whose AS_PATH holds the
                               receiver's AS 65000, which GoBGP never sends to it (AS loop):
                               gobgp 3.10's CLI exits before gobgpd has read the end of its
                               stream, and the padding is what gets lost.
"""
import socket
import struct
import sys

NEXT_HOP = "192.0.2.10"
MED = 100
PER_LINE = 1000


def prefix(i):
    return socket.inet_ntoa(struct.pack("!I", 0x0A000000 + i))


def api(n, out):
    for start in range(0, n, PER_LINE):
        nlri = " ".join(prefix(i) + "/32" for i in range(start, min(n, start + PER_LINE)))
        out.write(f"announce attributes next-hop {NEXT_HOP} med {MED} nlri {nlri}\n".encode())


def mrt_record(subtype, body):
    return struct.pack("!IHHI", 0, 13, subtype, len(body)) + body


def mrt(n, out, pad=0):
    # PEER_INDEX_TABLE: collector id, empty view name, one peer (IPv4 address, 4-octet AS).
    peers = struct.pack("!B4s4sI", 0x02, socket.inet_aton("192.0.2.10"), socket.inet_aton("192.0.2.10"), 65010)
    out.write(mrt_record(1, socket.inet_aton("192.0.2.10") + struct.pack("!HH", 0, 1) + peers))
    attrs = (
        struct.pack("!BBB", 0x40, 1, 1) + b"\x00"                               # ORIGIN IGP
        + struct.pack("!BBB", 0x40, 2, 0)                                       # AS_PATH (empty)
        + struct.pack("!BBB", 0x40, 3, 4) + socket.inet_aton(NEXT_HOP)          # NEXT_HOP
        + struct.pack("!BBBI", 0x80, 4, 4, MED)                                 # MULTI_EXIT_DISC
    )
    looped = attrs.replace(struct.pack("!BBB", 0x40, 2, 0), struct.pack("!BBBBBI", 0x40, 2, 6, 2, 1, 65000))
    for i in range(n + pad):
        a = attrs if i < n else looped
        address = 0x0A000000 + i if i < n else 0x0B000000 + i - n
        # RIB_IPV4_UNICAST: sequence, prefix length + prefix, one entry.
        body = struct.pack("!IBIH", i, 32, address, 1) + struct.pack("!HIH", 0, 0, len(a)) + a
        out.write(mrt_record(2, body))


if __name__ == "__main__":
    kind, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, "wb") as f:
        if kind == "mrt":
            mrt(n, f, int(sys.argv[4]) if len(sys.argv) > 4 else 0)
        else:
            api(n, f)
