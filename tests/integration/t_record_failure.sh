# Recordings under pressure: a full disk with agent.on_record_failure
# "block" ends the session whose recording failed and refuses new ones
# until there is room again, leaving every file verifiable; "continue"
# lets sessions run unrecorded with an alert. Retention removes old days.
# The tcp module records the byte streams up to record_stream_bytes.
. tests/lib.sh

REPLAY=$BUILD/sluice-replay
SMALL=$WORK/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=256k,mode=0700 sluice-test "$SMALL" || fail "mount tmpfs"
trap 'umount "$SMALL" 2>/dev/null; cleanup' EXIT
R=$SMALL/rec
RECORDINGS=$R
RP="$REPLAY --dir $R --key $WORK/state/recording.key"

fill() {
	dd if=/dev/urandom of="$SMALL/fill.$1" bs=4k 2>/dev/null
	[ "$(df --output=avail "$SMALL" | tail -n 1)" -eq 0 ] || fail "tmpfs not full"
}

pg_start
LPORT=$(free_port)
mk_cgroup "/$TAG"
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" "$R" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["agent"].update(recordings_dir=sys.argv[2], record_flush_ms=50, record_rows=1000,
                  retention_days=30)
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF

# ---------------------------------------------------------------- retention
old_day=2020-01-01
kept_day=$(date -u -d '-2 days' +%F)
mkdir -p "$R/$old_day" "$R/$kept_day"
echo x > "$R/$old_day/0000000000000001.slrec"
echo x > "$R/$kept_day/0000000000000002.slrec"
start_agent "$WORK/policy.json"
[ -d "$R/$old_day" ] && fail "a day older than retention_days was kept"
[ -f "$R/$kept_day/0000000000000002.slrec" ] || fail "a day within retention_days was removed"
grep -q "retention: removed 1 recording of $old_day" "$AGENT_LOG" || fail "retention not logged"
rm -r "${R:?}/$kept_day"

# ------------------------------------------------------- full disk: block
live_psql "/$TAG" "$WORK/psql.out"
echo "select 'before the fill' as marker;" >&7
wait_for "$WORK/psql.out" "before the fill" || fail "the session did not answer"
fill 1
# Rows that do not compress: more than the last page of the file can take.
echo "select md5(i::text) || md5((i * 7)::text) from generate_series(1, 400) i;" >&7
wait_for "$AGENT_LOG" "writing failed: No space left on device" ||
	fail "no alert for the failed write"
grep -q "SLUICE_EVENT=record_failed" "$AGENT_LOG" || fail "the alert is not a record_failed event"
echo "select 'after the failure' as marker;" >&7
exec 7>&-
wait "$LIVE"
grep -q "after the failure" "$WORK/psql.out" && fail "a statement passed after its recording failed"
grep -q "its recording cannot be written" "$AGENT_LOG" || fail "the session did not end for its recording"
out=$(job_psql -c "select 'refused' as marker" 2>&1) && fail "a new session ran while recordings fail: $out"
grep -q "refused connection: its recording cannot be written" "$AGENT_LOG" ||
	fail "the new session was not refused for its recording"
# Every file is whole: sealed, or unsealed up to its last chunk.
$RP verify --all > "$WORK/verify.out" 2>&1 || fail "verify after the full disk: $(cat "$WORK/verify.out")"
grep -q "unsealed" "$WORK/verify.out" || fail "the failed recording is not unsealed: $(cat "$WORK/verify.out")"
# Room again: sessions run and are recorded.
rm -f "$SMALL"/fill.*
out=$(job_psql -At -c "select 'room again' as marker") || fail "no session after space came back: $out"
[ "$out" = "room again" ] || fail "room again: $out"
grep -q "recordings can be written again" "$AGENT_LOG" || fail "recovery not logged"
wait_recorded "room again" || fail "the session after recovery was not recorded"
stop_agent

# ---------------------------------------------------- full disk: continue
sed -i 's/"record_flush_ms": 50/"record_flush_ms": 50, "on_record_failure": "continue"/' "$WORK/policy.json"
grep -q '"on_record_failure": "continue"' "$WORK/policy.json" || fail "policy edit"
start_agent "$WORK/policy.json"
fill 2
out=$(job_psql -At -c "select 'unrecorded' as marker") || fail "continue: the session did not run: $out"
[ "$out" = "unrecorded" ] || fail "continue: $out"
grep -q "the session goes on unrecorded (on_record_failure: continue)" "$AGENT_LOG" ||
	fail "continue: no alert"
rm -f "$SMALL"/fill.*
stop_agent
$RP verify --all > "$WORK/verify.out" 2>&1 || fail "verify after continue: $(cat "$WORK/verify.out")"

# --------------------------------------------------------- tcp byte streams
SPORT=$(free_port)
start_server 127.0.0.2 "$SPORT"
LPORT=$(free_port)
write_policy "$WORK/tcp.json" "$LPORT" "echo 127.0.0.2:$SPORT"
python3 - "$WORK/tcp.json" "$R" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["agent"].update(recordings_dir=sys.argv[2], record_stream_bytes=5)
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/tcp.json"
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "probe through the agent"
# "hello sluice\n": 5 bytes recorded each way, 8 + 8 left out.
wait_recorded '"ev":"session_end",.*"stream_bytes_left_out":16' || fail "no tcp session end with what was left out"
recordings > "$WORK/tcp.jsonl"
grep -q '"ev":"session_start",.*"protocol":"tcp","target":"echo"' "$WORK/tcp.jsonl" || fail "no tcp session start"
grep -q '"ev":"data",.*"from":"client","b64":"aGVsbG8="' "$WORK/tcp.jsonl" || fail "no client bytes"
grep -q '"ev":"data",.*"from":"upstream","b64":"aGVsbG8="' "$WORK/tcp.jsonl" || fail "no echoed bytes"
stop_agent
exit 0
