#!/usr/bin/env python3
# pg_raw: a PostgreSQL v3 client that sends exactly the messages it is
# told, all in one write (a pipeline no driver would send), and prints the
# answers in sluice-pgq's line format. For protocol cases libpq cannot
# make: long statement names, Binds without Describe, pipelined Queries.
#
#   pg_raw.py [--ready=N] HOST PORT STEP...
#
# Steps: P:NAME:SQL (Parse)  B:PORTAL:STATEMENT[:VALUE...] (Bind, text
#        parameters, text results)
#        E:PORTAL (Execute)  D:P:PORTAL or D:S:NAME (Describe)  S (Sync)
#        Q:SQL (Query)  H (Flush)  W (send what comes before, then wait for
#        an ErrorResponse before sending the rest)
# Output: ROW a|b (NULL for NULL), ERROR <sqlstate> <message>,
#         OK <tag>, PARAM <name> <value>, DESCRIBED (a RowDescription or
#         NoData), READY <status>; one line each, in
#         arrival order.
# Reads until one ReadyForQuery per S and Q has arrived (or N, when the
# server is to skip some), or the server closes; exit status 0 either way,
# 2 if the connection fails.
import socket
import struct
import sys


def message(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def build(step):
    kind, _, rest = step.partition(":")
    if kind == "P":
        name, _, sql = rest.partition(":")
        return message(b"P", cstr(name) + cstr(sql) + b"\0\0")
    if kind == "B":
        portal, stmt, *values = rest.split(":")
        params = b"".join(struct.pack("!i", len(v.encode())) + v.encode() for v in values)
        return message(b"B", cstr(portal) + cstr(stmt) + b"\0\0" +
                       struct.pack("!h", len(values)) + params + b"\0\0")
    if kind == "E":
        return message(b"E", cstr(rest) + b"\0\0\0\0")
    if kind == "D":
        what, _, name = rest.partition(":")
        return message(b"D", what.encode() + cstr(name))
    if kind == "S":
        return message(b"S", b"")
    if kind == "Q":
        return message(b"Q", cstr(rest))
    if kind == "H":
        return message(b"H", b"")
    sys.exit("pg_raw: unknown step " + step)


def fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode(errors="replace")
    return out


def main():
    args = sys.argv[1:]
    due = None
    if args and args[0].startswith("--ready="):
        due = int(args.pop(0)[8:])
    host, port, steps = args[0], int(args[1]), args[2:]
    try:
        s = socket.create_connection((host, port), timeout=20)
    except OSError as e:
        print("pg_raw: " + str(e), file=sys.stderr)
        return 2
    params = b"user\0job\0database\0orders\0\0"
    s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    buf = b""

    def read_message():
        nonlocal buf
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
            data = s.recv(65536)
            if not data:
                return None
            buf += data
        n = 1 + struct.unpack("!I", buf[1:5])[0]
        m, buf = buf[:n], buf[n:]
        return m

    while True:
        m = read_message()
        if m is None:
            print("pg_raw: closed during startup", file=sys.stderr)
            return 2
        if m[:1] == b"E":
            f = fields(m[5:])
            print("ERROR %s %s" % (f.get("C", "?"), f.get("M", "")))
            return 0
        if m[:1] == b"Z":
            break
    if due is None:
        due = sum(1 for step in steps if step == "S" or step.startswith("Q:"))
    chunks = [[]]
    for step in steps:
        if step == "W":
            chunks.append([])
        else:
            chunks[-1].append(step)
    s.sendall(b"".join(build(step) for step in chunks.pop(0)))
    while due > 0:
        m = read_message()
        if m is None:
            print("CLOSED")
            break
        kind, body = m[:1], m[5:]
        if kind == b"E" and chunks:
            s.sendall(b"".join(build(step) for step in chunks.pop(0)))
        if kind == b"D":
            n = struct.unpack("!H", body[:2])[0]
            p, vals = 2, []
            for _ in range(n):
                ln = struct.unpack("!i", body[p:p + 4])[0]
                p += 4
                vals.append("NULL" if ln < 0 else body[p:p + ln].decode(errors="replace"))
                p += max(ln, 0)
            print("ROW " + "|".join(vals))
        elif kind == b"E":
            f = fields(body)
            print("ERROR %s %s" % (f.get("C", "?"), f.get("M", "")))
        elif kind == b"C":
            print("OK " + body.rstrip(b"\0").decode())
        elif kind in (b"T", b"n"):
            print("DESCRIBED")
        elif kind == b"S":
            name, value = body.rstrip(b"\0").split(b"\0", 1)
            print("PARAM %s %s" % (name.decode(), value.decode(errors="replace")))
        elif kind == b"Z":
            print("READY " + body.decode())
            due -= 1
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
