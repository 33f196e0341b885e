# The packaged unit under a real systemd. This machine has no systemd as
# its PID 1, so the test boots one (the distribution's) as PID 1 of a pid
# and mount namespace of its own, with /tmp and /var/tmp private (systemd
# cleans /tmp at boot) and sluice.service as the only unit asked for.
# Under the unit's sandbox and capability set the agent starts (notify),
# attaches, proxies a selected job's connection (tcp, and a psql session
# with a masked column, recorded in /var/lib/sluice), reloads on
# "systemctl reload", is restarted after kill -9 while the job is refused
# in between (the pinned links), and survives its watchdog. The facts
# that need the caller's /proc (exe, lineage) are not there: the job runs
# outside the namespace's pid view, as it never does on a real host.
. tests/lib.sh

SYSTEMD=""
unit_cleanup() {
	[ -n "$SYSTEMD" ] && ns systemctl stop sluice.service >/dev/null 2>&1
	package_cleanup
	[ -n "$SYSTEMD" ] && kill -KILL "$SYSTEMD" 2>/dev/null
	cleanup
}
trap unit_cleanup EXIT
ns() { nsenter -t "$SYSTEMD" -m -p "$@"; }

package_start
deb=$PKG_DEB
# The ASan build keeps its address checks under the unit; LeakSanitizer
# needs ptrace, which the unit's system call filter refuses (the other
# tests check leaks).
if [ "$SAN" = 1 ]; then
	mkdir -p /etc/systemd/system/sluice.service.d
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
		> /etc/systemd/system/sluice.service.d/sanitizer.conf
fi
dpkg -i "$deb" > "$WORK/dpkg.out" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.out")"
setup_echo
pg_start
# The unit has a private /tmp: the credential lives where the unit sees it.
install -d -m 0700 /etc/sluice/secrets
install -m 0600 "$WORK/app.pw" /etc/sluice/secrets/orders-db
write_pg_policy "$WORK/pg.json" "$LPORT"
python3 - "$WORK/policy.json" "$WORK/pg.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
pg = json.load(open(sys.argv[2]))
for k in ("state_dir", "control_socket"):
    p["agent"].pop(k)          # the unit's own: /var/lib/sluice, /run/sluice
db = pg["targets"][0]
db["credentials"]["password_file"] = "/etc/sluice/secrets/orders-db"
p["targets"].append(db)
p["rules"].append({"target": db["name"], "roles": ["t"], "allow": ["read", "session"],
                   "mask": [{"column": "secret"}]})
json.dump(p, open("/etc/sluice/policy.json", "w"), indent=2)
PY
pg_super -d orders -c "create table c (name text, secret text); insert into c values ('a', 'hunter2-$$');
	alter table c owner to app" >/dev/null || fail "fixtures"

unshare --pid --fork --mount --propagation private sh -c \
	'mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/tmp && mount -t proc proc /proc &&
	 exec env container=sluice-test /lib/systemd/systemd --system --unit=sluice.service' \
	> "$WORK/systemd.log" 2>&1 &
UNSHARE=$!
PIDS="$UNSHARE $PIDS"
n=100
while [ -z "$SYSTEMD" ] && [ $n -gt 0 ]; do
	SYSTEMD=$(pgrep -P "$UNSHARE" -x systemd)
	[ -n "$SYSTEMD" ] || sleep 0.1
	n=$((n - 1))
done
[ -n "$SYSTEMD" ] || fail "systemd did not start: $(tail -n 5 "$WORK/systemd.log")"
state() { ns systemctl show -p ActiveState --value sluice.service 2>/dev/null; }
n=300
while [ "$(state)" != active ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(state)" = active ] || fail "sluice.service is $(state): $(ns journalctl -u sluice --no-pager | tail -n 5)"
ns systemctl show -p StatusText --value sluice.service | grep -q "^serving" || fail "no STATUS= from the agent"

probe() { in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT"; }
probe > "$WORK/probe" 2>&1 || fail "a selected job was not served under the unit: $(cat "$WORK/probe")"
n=50
while ! ns journalctl -u sluice --no-pager | grep -q "session .* start" && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
ns journalctl -u sluice --no-pager -o verbose SLUICE_EVENT=session_start > "$WORK/journal"
grep -q "SLUICE_CGROUP=/$TAG" "$WORK/journal" || fail "the caller's cgroup was not resolved under the unit"

# PostgreSQL under the unit: the agent's certificate, keys and recordings
# made in its StateDirectory, the credential read, the column masked.
out=$(job_psql -At -c "select name, secret from c") || fail "psql under the unit"
[ "$out" = "a|***" ] || fail "psql under the unit read: $out"
job_psql -c "delete from c" 2>/dev/null && fail "a delete was allowed under the unit"
[ -s /var/lib/sluice/recording.key ] && [ -s /var/lib/sluice/mask.key ] || fail "no keys made under the unit"
n=50
while [ -z "$(ls /var/lib/sluice/recordings/*/*.slrec 2>/dev/null)" ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
$BUILD/sluice-replay list > "$WORK/list" 2>&1 || fail "sluice-replay list: $(cat "$WORK/list")"
grep -q "orders-db" "$WORK/list" || fail "no recording of the psql session: $(cat "$WORK/list")"
$BUILD/sluice-replay verify --all > "$WORK/verify" 2>&1 || fail "recordings do not verify: $(cat "$WORK/verify")"
for id in $($BUILD/sluice-replay list --json | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["session"])'); do
	$BUILD/sluice-replay export "$id" >> "$WORK/events" || fail "export $id"
done
grep -q '"\*\*\*"' "$WORK/events" || fail "the masked row is not in the recordings"
grep -qF "hunter2-$$" "$WORK/events" && fail "a recording holds the masked value"

# kill -9: refused in the gap (the pinned links), served again after the restart.
main=$(ns systemctl show -p MainPID --value sluice.service)
ns kill -KILL "$main"
probe > "$WORK/gap" 2>&1 && fail "a selected job went around the killed agent: $(cat "$WORK/gap")"
grep -q "Connection refused" "$WORK/gap" || fail "in the gap: $(cat "$WORK/gap")"
n=100
while { [ "$(state)" != active ] || [ "$(ns systemctl show -p MainPID --value sluice.service)" = "$main" ]; } &&
	[ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ "$(ns systemctl show -p NRestarts --value sluice.service)" = 1 ] || fail "not restarted"
probe > "$WORK/probe" 2>&1 || fail "not served after the restart: $(cat "$WORK/probe")"
ns journalctl -u sluice --no-pager | grep -q "swapped into pinned links" || fail "the pins were not adopted"

# systemctl reload: a policy that no longer allows connect.
python3 - <<'PY'
import json
p = json.load(open("/etc/sluice/policy.json"))
p["rules"][0] = {"target": p["rules"][0]["target"], "roles": p["rules"][0]["roles"], "deny": ["connect"]}
json.dump(p, open("/etc/sluice/policy.json", "w"))
PY
ns systemctl reload sluice.service || fail "systemctl reload"
n=50
while ! ns journalctl -u sluice --no-pager | grep -q "generation 2" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
expect_reset probe || fail "the reloaded policy was not in force"

# The watchdog (30 s) has had its pings: no restart but the one above.
sleep 31
[ "$(ns systemctl show -p NRestarts --value sluice.service)" = 1 ] || fail "the watchdog restarted the agent"
[ "$(state)" = active ] || fail "sluice.service is $(state) after the watchdog period"

# Stopped, the agent leaves its links pinned (selected jobs refused);
# removing the package detaches them (jobs connect directly again).
ns systemctl stop sluice.service || fail "systemctl stop"
[ -e "$BPFFS/connect4" ] || fail "stopping the agent removed its pinned links"
probe > "$WORK/stopped" 2>&1 && fail "a stopped agent's job went direct: $(cat "$WORK/stopped")"
grep -q "Connection refused" "$WORK/stopped" || fail "with the agent stopped: $(cat "$WORK/stopped")"
dpkg -r sluice > "$WORK/dpkg.out" 2>&1 || fail "dpkg -r: $(cat "$WORK/dpkg.out")"
[ ! -e "$BPFFS" ] || fail "removing the package left pinned links: $(ls "$BPFFS")"
probe > "$WORK/probe" 2>&1 || fail "after removal the job does not connect directly: $(cat "$WORK/probe")"
exit 0
