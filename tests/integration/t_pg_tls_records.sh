# TLS records that end past a full buffer: the bytes OpenSSL has already
# decrypted raise no epoll event and must still be read. A job sends a
# ~60 kB query plus the head of a second one, then the second one's rest
# in one record; both must be answered.
. tests/lib.sh

setup_pg
PY=$(command -v python3) || fail "python3 not found"
in_cgroup "/$TAG" "$PY" - "$PGPORT" > "$WORK/records.out" 2>&1 <<'PYEOF' ||
import socket, ssl, struct, sys, time
port = int(sys.argv[1])
raw = socket.create_connection(("127.0.0.2", port))
raw.sendall(struct.pack("!II", 8, 80877103))
assert raw.recv(1) == b"S", "no TLS from the agent"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(raw)
params = b"user\0job\0database\0orders\0\0"
s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
def until_ready():
    got = b""
    while True:
        hdr = b""
        while len(hdr) < 5: hdr += s.recv(5 - len(hdr))
        n = struct.unpack("!I", hdr[1:])[0]; body = b""
        while len(body) < n - 4: body += s.recv(n - 4 - len(body))
        got += hdr[:1]
        if hdr[:1] == b"E": print("error:", body)
        if hdr[:1] == b"Z": return got
until_ready()
def query(text):
    body = text.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(body) + 4) + body
q1 = query("select '" + "a" * (59990 - 20) + "' as x")
q2 = query("select '" + "b" * 16000 + "' as y")
s.sendall(q1 + q2[:10])
time.sleep(0.5)
s.sendall(q2[10:])
s.settimeout(10)
r1 = until_ready(); r2 = until_ready()
print("ok", r1, r2)
PYEOF
	fail "the session stalled on bytes held by OpenSSL: $(tail -n 3 "$WORK/records.out")"
grep -q "^ok b'TDCZ' b'TDCZ'" "$WORK/records.out" || fail "unexpected answers: $(cat "$WORK/records.out")"
stop_agent
