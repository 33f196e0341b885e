# A broken policy is refused with the JSON path of each error, and nothing
# is attached.
. tests/lib.sh

cat > "$WORK/bad.json" <<JSON
{ "agent": { "listen": "127.0.0.1:99999", "bpffs": "$BPFFS", "colour": "blue" },
  "targets": [ { "name": "db", "protocol": "tcp", "address": "not-an-address" } ] }
JSON
rc=0
"$SLUICED" --config "$WORK/bad.json" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "bad policy: status $rc, want 1"
cat "$WORK/err" >&2
grep -q '\$\.agent\.listen:' "$WORK/err" || fail "no error for \$.agent.listen"
grep -q '\$\.agent\.colour:.*unknown' "$WORK/err" || fail "no error for the unknown key \$.agent.colour"
grep -q '\$\.targets\[0\]\.address:' "$WORK/err" || fail "no error for \$.targets[0].address"
[ ! -e "$BPFFS" ] || fail "a rejected policy attached something"

printf '{ "agent": { "listen": "127.0.0.1:1" }, ' > "$WORK/trunc.json"
rc=0
"$SLUICED" --config "$WORK/trunc.json" --check 2>"$WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "truncated JSON: status $rc"
grep -q '\$: ' "$WORK/err" || fail "truncated JSON error does not name a place: $(cat "$WORK/err")"

rc=0
"$SLUICED" --config "$WORK/missing.json" --check 2>"$WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "missing file: status $rc"
grep -q 'missing.json' "$WORK/err" || fail "missing file not named"
