# sluice-replay on real recordings (written by tests/helpers/sluice-mkrec
# with the recording writer): list and its filters, show, export as JSON
# and asciicast (read back by asciinema), play, verify; copies changed the
# ways an attacker or a crash would, each found at its offset; the key and
# folder checks. No agent: t_recording.sh has the agent write them.
. tests/lib.sh

REPLAY=$BUILD/sluice-replay
MKREC=$BUILD/tests/sluice-mkrec
RECS=$WORK/recs
KEY=$WORK/recording.key
A=a1b2c3d4e5f60001  # postgres: allowed, denied and failing statements, rows
B=a1b2c3d4e5f60002  # tcp, with a minute of silence
C=b000000000000003  # postgres, never sealed
ESC=$(printf '\033')

head -c 32 /dev/urandom > "$KEY"
chmod 600 "$KEY"
now=$(date +%s)

replay() {
	"$REPLAY" --dir "$RECS" --key "$KEY" "$@"
}

# The status of CMD..., its output in $WORK/out and $WORK/err.
status() {
	rc=0
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	echo "$rc"
}

# An event of a session that started AGO seconds before now, MS into it.
ev() { # KIND AGO MS MEMBERS
	printf '{"ev":"%s","ts":%s,"mono":%s%s}\n' "$1" \
		"$(( ($now - $2) * 1000000 + $3 * 1000 ))" "$(( 5000000 + $3 * 1000 ))" "${4:+,$4}"
}

# --- The recordings.
{
	ev session_start 3600 0 '"session":"'$A'","protocol":"postgres","target":"pg","identity":"job","rule":0,"client":"127.0.0.1:40000","upstream":"127.0.0.2:5432","facts":{"cgroup":"/sluice-test","unit":"etl.service","uid":1000,"user":"etl","pid":4242,"exe":"/usr/bin/psql","comm":"psql"}'
	ev tls 3600 10 '"side":"client","version":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384"'
	ev login 3600 20 '"user":"etl","database":"orders","upstream_user":"app","auth":"scram-sha-256"'
	ev statement 3600 100 '"seq":1,"path":"query","text":"SELECT id, name FROM users ORDER BY id","decision":"allow","rule":1,"class":"read","kind":"select","tables":["users"]'
	ev columns 3600 101 '"seq":1,"names":["id","name"]'
	ev row 3600 101 '"seq":1,"values":["1","alice"]'
	ev row 3600 101 '"seq":1,"values":["2","bob"]'
	ev row 3600 101 '"seq":1,"values":["3",null]'
	ev result 3600 102 '"seq":1,"tag":"SELECT 3","rows":3,"us":1500'
	echo '#flush'
	ev statement 3600 500 '"seq":2,"path":"extended","text":"DELETE FROM users WHERE id = $1","params":["2"],"prepared":"s1","decision":"deny","rule":2,"class":"write","kind":"delete","tables":["users"],"reason":"statement class write is denied by rule 2"'
	ev result 3600 501 '"seq":2,"us":300,"error":{"sqlstate":"42501","message":"statement class write is denied by rule 2"}'
	ev statement 3600 800 '"seq":3,"path":"query","text":"SELECT * FROM missing_table","decision":"allow","rule":1,"class":"read","kind":"select","tables":["missing_table"]'
	ev result 3600 801 '"seq":3,"us":200,"error":{"sqlstate":"42P01","message":"relation \"missing_table\" does not exist"}'
	echo '#flush'
	ev statement 3600 1100 '"seq":4,"path":"query","text":"SELECT '"'"'evil\u001b[2J'"'"'","decision":"allow","rule":1,"class":"read","kind":"select","tables":[]'
	ev columns 3600 1101 '"seq":4,"names":["?column?"]'
	ev row 3600 1101 '"seq":4,"values":["evil\u001b[2J"]'
	ev result 3600 1102 '"seq":4,"tag":"SELECT 1","rows":1,"us":100'
	ev approval_request 3600 1150 '"seq":5,"approver":"bob"'
	ev session_end 3600 1200 '"reason":"client closed","bytes_up":420,"bytes_down":1337,"ms":1200'
} > "$WORK/a.jsonl"
{
	ev session_start 259200 0 '"session":"'$B'","protocol":"tcp","target":"echo","identity":"batch","client":"127.0.0.1:40001","upstream":"127.0.0.2:7"'
	ev data 259200 100 '"from":"client","b64":"'"$(printf 'hello sluice\n' | base64)"'"'
	ev data 259200 200 '"from":"upstream","b64":"'"$(printf 'HELLO SLUICE\r\n' | base64)"'"'
	ev session_end 259200 60200 '"reason":"upstream closed","bytes_up":13,"bytes_down":14,"ms":60200,"stream_bytes_left_out":0'
} > "$WORK/b.jsonl"
{
	ev session_start 600 0 '"session":"'$C'","protocol":"postgres","target":"pg2","identity":"job"'
	ev statement 600 50 '"seq":1,"path":"query","text":"UPDATE accounts SET note = '"'"'x'"'"'","decision":"would_deny","rule":3,"class":"write","kind":"update","tables":["accounts"]'
	ev result 600 60 '"seq":1,"tag":"UPDATE 1","rows":1,"us":900'
} > "$WORK/c.jsonl"

FILE_A=$("$MKREC" "$RECS" $A "$KEY" < "$WORK/a.jsonl") || fail "could not write $A"
"$MKREC" "$RECS" $B "$KEY" < "$WORK/b.jsonl" >/dev/null || fail "could not write $B"
"$MKREC" "$RECS" $C "$KEY" --unsealed < "$WORK/c.jsonl" >/dev/null || fail "could not write $C"
DAY=$(basename "$(dirname "$FILE_A")")
events_a=$(grep -c '^{' "$WORK/a.jsonl")

# --- list: newest first, each filter.
# The ids list prints, in order, on one line.
ids() {
	replay list "$@" > "$WORK/list" || fail "list $*: status $?"
	head -n 1 "$WORK/list" | grep -q '^START  *ID  *IDENTITY  *TARGET  *PROTOCOL  *DURATION  *STATEMENTS  *DENIED  *INTEGRITY$' ||
		fail "list $*: no header: $(head -n 1 "$WORK/list")"
	tail -n +2 "$WORK/list" | awk '{ print $3 }' | tr '\n' ' '
}
expect_ids() { # WANT ARGS...
	want=$1
	shift
	got=$(ids "$@")
	[ "$got" = "$want" ] || fail "list $*: got '$got', want '$want'"
}
expect_ids "$C $A $B "
grep -q "^.*  $A  job  *pg  *postgres  *1.200s  *4  *1  sealed$" "$WORK/list" || fail "list: A's line: $(cat "$WORK/list")"
grep -q "  $B  batch  *echo  *tcp  *1m00s  *0  *0  sealed$" "$WORK/list" || fail "list: B's line"
grep -q "  $C  job  *pg2  *postgres .* 1  *0  unsealed$" "$WORK/list" || fail "list: C's line"
start_a=$(date -u -d "@$((now - 3600))" '+%Y-%m-%d %H:%M:%S')
grep -q "^$start_a  $A " "$WORK/list" || fail "list: A does not start at $start_a"
expect_ids "$C $A " --identity job
expect_ids "$B " --identity 'b*'
expect_ids "$A " --target pg
expect_ids "$C $A " --target 'pg*'
expect_ids "$C $A " --since 2h
expect_ids "$C " --since 30m
expect_ids "$B " --until 1d
expect_ids "$A " --since 2h --until 30m
expect_ids "$C $A " --since "$(date -u -d "@$((now - 7200))" '+%Y-%m-%dT%H:%M')"
expect_ids "$A $B " --until "$(date -u -d "@$((now - 1800))" '+%Y-%m-%dT%H:%M:%S')"
expect_ids "" --until "$(date -u -d "@$((now - 86400 * 30))" '+%Y-%m-%d')"
expect_ids "$A " --decision deny
expect_ids "$C " --decision would_deny
expect_ids "" --decision approve
expect_ids "$A " --identity job --decision deny --since 7d

replay list --json > "$WORK/list.json" || fail "list --json"
python3 - "$WORK/list.json" "$A" "$C" <<'PY' || fail "list --json: $(cat "$WORK/list.json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["session"] for r in rows][:2] == [sys.argv[3], sys.argv[2]], rows
a = rows[1]
assert (a["identity"], a["target"], a["protocol"]) == ("job", "pg", "postgres"), a
assert (a["statements"], a["denied"], a["integrity"], a["duration_ms"]) == (4, 1, "sealed", 1200), a
assert rows[0]["integrity"] == "unsealed", rows[0]
PY

# --- show: the header, statements, decisions, rows, errors, tcp data.
replay show "$A" > "$WORK/show" || fail "show $A: status $?"
for want in "^identity   job$" "^facts .*unit=etl.service" "^target     pg$" "^tls        client TLSv1.3" \
	"^login      user etl  database orders  as app" \
	"statement #1  allow  rule 1  class read  kind select  tables users" \
	"SELECT id, name FROM users ORDER BY id" \
	"^ *id | name *$" "^ *1  | alice *$" "^ *2  | bob *$" \
	"result #1  SELECT 3  rows 3  1.500 ms" \
	"^+0.500s  *statement #2  deny  rule 2  class write  kind delete" \
	"reason: statement class write is denied by rule 2" "params: \$1 = '2'" \
	"ERROR 42P01: relation \"missing_table\" does not exist" \
	"approval_request  seq=5 approver=bob" \
	"session_end  client closed  bytes up 420  down 1337  1.200s" \
	"^integrity  sealed, 5 chunks, $events_a events$"; do
	grep -q -- "$want" "$WORK/show" || fail "show $A lacks '$want'"
done
grep -q "SELECT 'evil\\\\x1b\[2J'" "$WORK/show" || fail "show: the escape in a statement is not shown escaped"
! grep -q "$ESC" "$WORK/show" || fail "show wrote an escape character to the terminal"
[ "$(status replay show a1b2)" -eq 1 ] && grep -q "ambiguous" "$WORK/err" || fail "ambiguous prefix: $(cat "$WORK/err")"
[ "$(status replay show ffff)" -eq 1 ] && grep -q "no recording ffff" "$WORK/err" || fail "unknown id: $(cat "$WORK/err")"
replay show b0 > "$WORK/show" || fail "show by a unique prefix"
grep -q "^integrity  unsealed (intact up to its last chunk" "$WORK/show" || fail "show $C: not unsealed"
grep -q "statement #1  would_deny  rule 3" "$WORK/show" || fail "show $C: no would_deny"
replay show "$B" > "$WORK/show" || fail "show $B"
grep -q 'data from client  13 bytes  "hello sluice\\n"' "$WORK/show" || fail "show $B: client data"
grep -q 'data from upstream  14 bytes  "HELLO SLUICE\\r\\n"' "$WORK/show" || fail "show $B: upstream data"

# --- export: JSON lines as recorded, the session added; asciicast that
# asciinema reads (its cat wants a terminal: script gives it one).
replay export "$A" --format json > "$WORK/a.export" || fail "export json"
python3 - "$WORK/a.export" "$WORK/a.jsonl" "$A" <<'PY' || fail "export json"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
assert len(got) == len(want), (len(got), len(want))
for g, w in zip(got, want):
    assert g.pop("session") == sys.argv[3], g
    w.pop("session", None)
    assert g == w, (g, w)
PY
for id in "$A" "$B"; do
	replay export "$id" --format asciicast > "$WORK/$id.cast" || fail "export asciicast $id"
	python3 - "$WORK/$id.cast" "$id" <<'PY' || fail "asciicast header of $id: $(head -n 1 "$WORK/$id.cast")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
head = json.loads(lines[0])
assert head["version"] == 2 and head["width"] == 120 and head["height"] == 40, head
assert head["title"].startswith("sluice session " + sys.argv[2] + ": "), head
assert isinstance(head["timestamp"], int), head
times = [json.loads(l)[0] for l in lines[1:]]
assert times == sorted(times) and all(json.loads(l)[1] == "o" for l in lines[1:])
PY
	script -qec "asciinema cat '$WORK/$id.cast'" /dev/null < /dev/null > "$WORK/$id.cat" ||
		fail "asciinema cat refused $id's asciicast: $(cat "$WORK/$id.cat")"
done
for want in "job@pg=> SELECT id, name FROM users ORDER BY id" " alice" " bob" "(3 rows)" \
	"job@pg=> DELETE FROM users WHERE id = \$1" "ERROR:  statement class write is denied by rule 2" \
	"DETAIL:  decision deny, rule 2" "ERROR:  relation \"missing_table\" does not exist" \
	"session ended  client closed"; do
	grep -qF -- "$want" "$WORK/$A.cat" || fail "asciicast of $A lacks '$want'"
done
[ "$(grep -c "ERROR:  statement class write" "$WORK/$A.cat")" -eq 1 ] || fail "the refusal is shown twice"
! grep -q "$ESC\[2J" "$WORK/$A.cat" || fail "the asciicast clears the screen of whoever plays it"
grep -q "^hello sluice" "$WORK/$B.cat" && grep -q "^HELLO SLUICE" "$WORK/$B.cat" || fail "asciicast of $B lacks its data"

# --- play: the asciicast's text, paced: B's minute of silence is cut to 5 s,
# and at 10x to half a second.
t0=$(date +%s%N)
replay play "$B" --speed 10 > "$WORK/play" || fail "play: status $?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 450 ] && [ "$ms" -lt 3000 ] || fail "play of $B at 10x took $ms ms, want about 520"
python3 - "$WORK/$B.cast" "$WORK/play" <<'PY' || fail "play did not write the asciicast's text"
import json, sys
frames = [json.loads(l)[2] for l in open(sys.argv[1]).read().splitlines()[1:]]
assert "".join(frames) == open(sys.argv[2], newline="").read()
PY
[ "$(status replay play "$A" --speed 0)" -eq 2 ] || fail "play --speed 0 was taken"
# On a terminal, keys steer it and the terminal is set back however it ends:
# s and the right arrow skip the wait, q quits, SIGTERM too (status 130).
python3 - "$REPLAY" --dir "$RECS" --key "$KEY" play "$B" <<'PY' || fail "play on a terminal"
import os, pty, select, signal, sys, termios, time

def play(keys, kill=False):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[1], sys.argv[1:])
    def read(seconds):
        end = time.time() + seconds
        while time.time() < end:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    return
    before = termios.tcgetattr(fd)
    read(0.5)
    raw = not termios.tcgetattr(fd)[3] & termios.ICANON
    start = time.time()
    for k in keys:
        os.write(fd, k)
        read(0.1)
    if kill:
        os.kill(pid, signal.SIGTERM)
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done:
        assert time.time() - start < 4, ("still playing after", keys)
        read(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
    restored = termios.tcgetattr(fd) == before
    os.close(fd)
    assert raw and restored, (keys, raw, restored)
    return os.waitstatus_to_exitcode(status)

assert play([b"s", b"\x1b[C"]) == 0
assert play([b"q"]) == 0
assert play([], kill=True) == 130
PY

# --- verify: sealed, unsealed, and each change found where it is.
[ "$(status replay verify --all)" -eq 0 ] || fail "verify --all: $(cat "$WORK/out" "$WORK/err")"
grep -qx "$A: sealed, 5 chunks, $events_a events" "$WORK/out" || fail "verify: $(cat "$WORK/out")"
grep -qx "$B: sealed, 3 chunks, 4 events" "$WORK/out" || fail "verify: $B"
grep -qx "$C: unsealed (intact up to its last chunk, agent stopped before closing), 2 chunks, 3 events" \
	"$WORK/out" || fail "verify: $C"
[ "$(status replay verify "$C")" -eq 0 ] || fail "verify of an unsealed recording failed"

# Chunk offsets from the format (docs/recording-format.md), and a copy of A
# changed by MODE: prints the offset verify must name.
tamper() { # MODE DST
	python3 - "$1" "$FILE_A" "$2" <<'PY'
import sys
mode, src, dst = sys.argv[1:]
d = bytearray(open(src, "rb").read())
c = []
off = 0
while off < len(d):
    c.append(off)
    off += 20 + int.from_bytes(d[off + 16:off + 20], "big") + 32
c.append(len(d))
chunk = lambda i: d[c[i]:c[i + 1]]
if mode == "byte":
    d[c[2] + 22] ^= 1
    bad = c[2]
elif mode == "drop":
    d = d[:c[1]] + d[c[2]:]
    bad = c[1]
elif mode == "swap":
    d = d[:c[1]] + chunk(2) + chunk(1) + d[c[3]:]
    bad = c[1]
elif mode == "append":
    d = d + chunk(1)
    bad = c[-1]
elif mode == "cut":
    d = d[:c[3] + 30]
    bad = c[3]
open(dst, "wb").write(d)
print(bad)
PY
}
for mode in byte drop swap append cut; do
	dir=$WORK/t-$mode
	mkdir -p "$dir/$DAY"
	want=$(tamper $mode "$dir/$DAY/$A.slrec") || fail "tamper $mode"
	rc=$(status "$REPLAY" --dir "$dir" --key "$KEY" verify "$A")
	[ "$rc" -eq 1 ] || fail "verify after $mode: status $rc"
	grep -q "^$A: BAD at offset $want: " "$WORK/out" || fail "verify after $mode: $(cat "$WORK/out"), want offset $want"
	[ "$(status "$REPLAY" --dir "$dir" --key "$KEY" verify --all)" -eq 1 ] || fail "verify --all after $mode"
	"$REPLAY" --dir "$dir" --key "$KEY" list > "$WORK/list" || fail "list after $mode"
	grep -q "  $A  .*  BAD$" "$WORK/list" || fail "list after $mode: $(cat "$WORK/list")"
done
# What is good is still shown, with a warning naming the offset.
dir=$WORK/t-byte
rc=$(status "$REPLAY" --dir "$dir" --key "$KEY" show "$A")
[ "$rc" -eq 1 ] || fail "show of a changed recording: status $rc"
grep -q "SELECT id, name FROM users" "$WORK/out" || fail "show of a changed recording lost its good chunk"
! grep -q "DELETE FROM users" "$WORK/out" || fail "show of a changed recording showed its bad chunk"
grep -q "$A: BAD at offset $(tamper byte /dev/null): " "$WORK/err" || fail "show: no warning: $(cat "$WORK/err")"
[ "$(status "$REPLAY" --dir "$dir" --key "$KEY" export "$A" --format asciicast)" -eq 1 ] || fail "export of a changed recording"
grep -q "alice" "$WORK/out" && grep -q "BAD at offset" "$WORK/err" || fail "export of a changed recording"

# A recording renamed to another session's id.
dir=$WORK/t-renamed
mkdir -p "$dir/$DAY"
cp "$FILE_A" "$dir/$DAY/$B.slrec"
[ "$(status "$REPLAY" --dir "$dir" --key "$KEY" verify "$B")" -eq 1 ] &&
	grep -q "^$B: BAD at offset 0: the file is named $B but its header says $A" "$WORK/out" ||
	fail "a renamed recording: $(cat "$WORK/out")"

# --- On another machine: a copy of the folder and the key; the wrong key.
cp -r "$RECS" "$WORK/copy"
cp "$KEY" "$WORK/copy.key"
[ "$(status "$REPLAY" --dir "$WORK/copy" --key "$WORK/copy.key" verify --all)" -eq 0 ] || fail "verify of a copy"
head -c 32 /dev/urandom > "$WORK/wrong.key"
chmod 600 "$WORK/wrong.key"
[ "$(status "$REPLAY" --dir "$WORK/copy" --key "$WORK/wrong.key" verify --all)" -eq 1 ] || fail "wrong key: status"
[ "$(grep -c ": BAD at offset 0: MAC does not match" "$WORK/out")" -eq 3 ] || fail "wrong key: $(cat "$WORK/out")"

# --- Keys, folders and files it refuses.
[ "$(status "$REPLAY" --dir "$RECS" --key "$WORK/none.key" list)" -eq 1 ] &&
	grep -q "cannot open the key $WORK/none.key" "$WORK/err" || fail "missing key: $(cat "$WORK/err")"
head -c 31 "$KEY" > "$WORK/short.key"
chmod 600 "$WORK/short.key"
[ "$(status "$REPLAY" --dir "$RECS" --key "$WORK/short.key" list)" -eq 1 ] &&
	grep -q "not a 32-byte file" "$WORK/err" || fail "short key: $(cat "$WORK/err")"
cp "$KEY" "$WORK/open.key"
chmod 644 "$WORK/open.key"
[ "$(status "$REPLAY" --dir "$RECS" --key "$WORK/open.key" list)" -eq 1 ] &&
	grep -q "chmod 600" "$WORK/err" || fail "readable key: $(cat "$WORK/err")"
[ "$(status "$REPLAY" --dir "$WORK/nowhere" --key "$KEY" list)" -eq 1 ] || fail "missing folder"
# A link in the folder is not followed; a file over 1 GiB is not read.
ln -s "$FILE_A" "$RECS/$DAY/c000000000000001.slrec"
[ "$(status replay show c0)" -eq 1 ] || fail "a symbolic link was followed"
rm "$RECS/$DAY/c000000000000001.slrec"
truncate -s 1073741825 "$RECS/$DAY/c000000000000002.slrec"
[ "$(status replay verify c0)" -eq 1 ] && grep -q "more than this tool reads" "$WORK/out" ||
	fail "a huge file: $(cat "$WORK/out" "$WORK/err")"
rm "$RECS/$DAY/c000000000000002.slrec"

# --- Usage: exit 2 with the usage text; --help exit 0.
for args in "" "frobnicate" "list $A" "show" "show $A $B" "verify" "verify $A --all" \
	"list --speed 2" "export $A --format yaml" "list --since yesterday" "list --bogus"; do
	# shellcheck disable=SC2086
	rc=$(status replay $args)
	[ "$rc" -eq 2 ] && grep -q "^usage: sluice-replay" "$WORK/err" || fail "'$args': status $rc, want 2 and usage"
done
[ "$(status replay --help)" -eq 0 ] && grep -q "^usage: sluice-replay" "$WORK/out" || fail "--help"
exit 0
