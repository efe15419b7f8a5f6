#!/usr/bin/python3
"""Reads traffic.py's JSON lines and the phases integration/demo.sh recorded; prints the per-phase
table and the verdict, and writes the JSON report. Standard library only.

  report.py cycled LOG SINCE STREAMS
      exit 0 once each of the STREAMS keep-alive streams has had a complete response after SINCE
      (wall clock) that closed its connection: every keep-alive connection open at SINCE is gone.
  report.py timeout LOG SINCE SECONDS STREAMS
      exit 0 once each of the STREAMS + 1 streams (new + keep-alive) has started a request after
      SINCE with the per-request timeout SECONDS: a timeout change has reached every stream.
  report.py report LOG PHASES [--json OUT] --bound-ms N --bound-formula TEXT
      phases: JSON lines {"name", "start", "end", "expect", "check"[, "bound_ms", "bound_formula"]}
      (wall clock seconds). A phase's own bound (the freezes) replaces --bound-ms (the HAProxy
      kill's) for it. A request belongs to the phase in which it ended (answered or failed); each
      phase reports the client's per-request timeout in force (the largest seen in it). check is
      what the phase must show:
        steady    no failed request, no reset connection, every answer from `expect`
        lossless  a planned route move: no failed request, no reset connection
        planned   the same move without second-chance forwarding between the nodes: failures
                  and resets reported, not enforced, because an L3 move still resets a connection
                  whose handshake is in flight at the move
        outage    the failures last no longer than the bound (first failed request's start to the
                  last failed request's end), and afterwards every answer from `expect`
        ecmp      no failure; new connections answered by both nodes
        info      reported only (with a bound: the outage and its bound, not a target)
      Exit 0 when every phase passes, 1 otherwise.
"""

import argparse
import json
import sys

NODES = ("haproxy01", "haproxy02")


def load(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                pass  # a line cut by a kill at the very end
    return records


def cycled(args):
    since = float(args.since)
    done = set()
    for r in load(args.log):
        if r.get("type") == "req" and r["kind"] == "keepalive" and r["t"] > since and r.get("server_close"):
            done.add(r["stream"])
    return 0 if len(done) >= args.streams else 1


def timeout_reached(args):
    since, want = float(args.since), float(args.seconds)
    seen = set()
    for r in load(args.log):
        if r.get("type") == "req" and r["t"] > since and abs(r.get("timeout", -1) - want) < 1e-9:
            seen.add(r["stream"])
    return 0 if len(seen) >= args.streams + 1 else 1


def done_at(record):
    """When a request was answered or failed (wall clock): it belongs to the phase it ended in."""
    return record["t"] + record.get("dur", 0.0)


def phase_stats(records, phase):
    start, end = phase["start"], phase["end"]
    reqs = [r for r in records if r.get("type") == "req" and start <= done_at(r) < end]
    idle_resets = [r for r in records if r.get("type") == "idle_reset" and start <= done_at(r) < end]
    failed = [r for r in reqs if not r["ok"]]
    reset_conns = {(r["stream"], r["conn"]) for r in reqs if r.get("reset")}
    reset_conns |= {(r["stream"], r["conn"]) for r in idle_resets}
    errors = {}
    for r in failed:
        errors[r["err"]] = errors.get(r["err"], 0) + 1
    served = {n: 0 for n in NODES}
    served_new = {n: 0 for n in NODES}
    for r in reqs:
        if r["ok"]:
            served[r["node"]] = served.get(r["node"], 0) + 1
            if r["kind"] == "new":
                served_new[r["node"]] = served_new.get(r["node"], 0) + 1
    out = {
        "name": phase["name"],
        "check": phase["check"],
        "expect": phase.get("expect"),
        "start": round(start, 6),
        "end": round(end, 6),
        "duration_s": round(end - start, 3),
        "sent": len(reqs),
        "ok": len(reqs) - len(failed),
        "failed": len(failed),
        "resets": len(reset_conns),
        "errors": errors,
        "served_by": served,
        "new_connections_served_by": served_new,
    }
    timeouts = [r["timeout"] for r in reqs if "timeout" in r]
    out["client_timeout_ms"] = round(max(timeouts) * 1000) if timeouts else None
    if "bound_ms" in phase:
        out["bound_ms"] = phase["bound_ms"]
        out["bound_formula"] = phase.get("bound_formula", "")
    out["events_s"] = {k: round(v - start, 3) for k, v in phase.get("events", {}).items()}
    # Every failure and reset, relative to the phase start (the first 20): what broke, when.
    out["failures"] = [
        {"at_s": round(r["t"] - start, 4), "dur_s": r.get("dur"), "stream": r["stream"], "type": r["type"],
         "err": r.get("err"), "reused": r.get("reused"), "detail": r.get("detail")}
        for r in sorted(failed + idle_resets + [r for r in reqs if r["ok"] and r.get("reset")], key=lambda r: r["t"])
    ][:20]
    if failed:
        first = min(r["t"] for r in failed)
        last_end = max(r["t"] + r["dur"] for r in failed)
        out["first_failure_s"] = round(first - start, 3)
        out["outage_ms"] = round((last_end - first) * 1000, 1)
        out["last_failure_end_s"] = round(last_end - start, 3)
    else:
        out["outage_ms"] = 0.0
    return out


def verdict(stats, bound_ms, records):
    """(passed, reason) for one phase; bound_ms: the phase's own bound, else the HAProxy kill's."""
    check, expect = stats["check"], stats["expect"]
    bound_ms = stats.get("bound_ms", bound_ms)
    others = {n: c for n, c in stats["served_by"].items() if n != expect and c}
    if stats["sent"] == 0 and check != "info":
        return False, "no traffic at all"
    if check == "steady":
        if stats["failed"] or stats["resets"]:
            return False, "%d failed, %d resets" % (stats["failed"], stats["resets"])
        if others:
            return False, "answered by %s, expected only %s" % (others, expect)
        return True, "all %d answered by %s" % (stats["ok"], expect)
    if check == "lossless":
        if stats["failed"] or stats["resets"]:
            return False, "%d failed, %d resets (target 0/0)" % (stats["failed"], stats["resets"])
        return True, "0 failed, 0 resets"
    if check == "outage":
        if stats["outage_ms"] > bound_ms:
            return False, "outage %.0f ms > bound %d ms" % (stats["outage_ms"], bound_ms)
        if stats["failed"] == 0:
            return False, "no failure seen: did the fault (%s) really happen?" % stats["name"]
        tail = [r for r in records if r.get("type") == "req" and stats["end"] - 0.5 <= done_at(r) < stats["end"]]
        if not tail or any((not r["ok"]) or r["node"] != expect for r in tail):
            return False, "the last 0.5 s were not all answered by %s" % expect
        return True, "outage %.0f ms <= bound %d ms (fault to end of last failure: %.0f ms)" % (
            stats["outage_ms"], bound_ms, stats["last_failure_end_s"] * 1000)
    if check == "ecmp":
        new = stats["new_connections_served_by"]
        if stats["failed"] or stats["resets"]:
            return False, "%d failed, %d resets" % (stats["failed"], stats["resets"])
        if not all(new.get(n) for n in NODES):
            return False, "new connections answered by %s, expected both nodes" % new
        return True, "new connections split %s" % " / ".join("%s %d" % (n, new[n]) for n in NODES)
    if check == "planned":
        if stats["failed"] or stats["resets"]:
            return True, "reported: %d failed, %d resets" % (
                stats["failed"], stats["resets"])
        return True, "reported: 0 failed, 0 resets"
    if "bound_ms" in stats:
        if not stats["failed"]:
            return True, "reported: no failure (bound %d ms, not a target)" % stats["bound_ms"]
        return True, "reported: outage %.0f ms, bound %d ms (not a target; fault to end of last failure: %.0f ms)" % (
            stats["outage_ms"], stats["bound_ms"], stats["last_failure_end_s"] * 1000)
    return True, "reported only"


def report(args):
    records = load(args.log)
    phases = [json.loads(line) for line in open(args.phases, encoding="utf-8") if line.strip()]
    rows = []
    ok_all = True
    for phase in phases:
        stats = phase_stats(records, phase)
        passed, reason = verdict(stats, args.bound_ms, records)
        stats["passed"] = passed
        stats["verdict"] = reason
        ok_all &= passed
        rows.append(stats)

    hdr = "%-13s %-8s %6s %6s %6s %6s %9s %9s %7s %9s %8s  %s" % (
        "phase", "check", "secs", "sent", "failed", "resets", "haproxy01", "haproxy02", "timeout", "outage",
        "bound", "verdict")
    print(hdr)
    print("-" * len(hdr))
    for s in rows:
        outage = "%.0f ms" % s["outage_ms"] if s["failed"] else "-"
        errs = ""
        if s["errors"]:
            errs = " [" + ", ".join("%s %d" % kv for kv in sorted(s["errors"].items())) + "]"
        bound = s.get("bound_ms", args.bound_ms if s["check"] == "outage" else None)
        timeout = "%d ms" % s["client_timeout_ms"] if s["client_timeout_ms"] is not None else "-"
        print("%-13s %-8s %6.1f %6d %6d %6d %9d %9d %7s %9s %8s  %s %s%s" % (
            s["name"], s["check"], s["duration_s"], s["sent"], s["failed"], s["resets"],
            s["served_by"].get("haproxy01", 0), s["served_by"].get("haproxy02", 0), timeout, outage,
            "%d ms" % bound if bound is not None else "-",
            "ok:" if s["passed"] else "FAIL:", s["verdict"], errs))
    totals = {k: sum(s[k] for s in rows) for k in ("sent", "failed", "resets")}
    print("%-13s %-8s %6s %6d %6d %6d" % ("total", "", "", totals["sent"], totals["failed"], totals["resets"]))

    outage = next((s for s in rows if s["name"] == "kill"), None)
    by_name = {s["name"]: s for s in rows}

    def outage_of(name):
        return by_name[name]["outage_ms"] if name in by_name else None

    def bound_of(name):
        return by_name[name].get("bound_ms") if name in by_name else None

    doc = {
        "passed": ok_all,
        "phases": rows,
        "totals": totals,
        "outage_after_haproxy_kill_ms": outage["outage_ms"] if outage else None,
        "outage_bound_ms": args.bound_ms,
        "outage_bound_formula": args.bound_formula,
        # The node freeze (every process of haproxy01 SIGSTOPped) with BFD, and the same without it.
        "outage_after_freeze_ms": outage_of("freeze"),
        "freeze_bound_ms": bound_of("freeze"),
        "outage_after_freeze_without_bfd_ms": outage_of("freeze_no_bfd"),
        "freeze_without_bfd_bound_ms": bound_of("freeze_no_bfd"),
        "settings": json.loads(args.settings) if args.settings else {},
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 0 if ok_all else 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cycled")
    c.add_argument("log")
    c.add_argument("since")
    c.add_argument("streams", type=int)
    r = sub.add_parser("report")
    r.add_argument("log")
    r.add_argument("phases")
    r.add_argument("--json")
    r.add_argument("--bound-ms", type=int, required=True)
    r.add_argument("--bound-formula", default="")
    r.add_argument("--settings", default="")
    t = sub.add_parser("timeout")
    t.add_argument("log")
    t.add_argument("since")
    t.add_argument("seconds")
    t.add_argument("streams", type=int)
    args = parser.parse_args()
    return {"cycled": cycled, "timeout": timeout_reached, "report": report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
