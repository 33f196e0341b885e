# The packaged unit under a real systemd. This machine has no systemd as
# its PID 1, so the test boots one (the distribution's) as PID 1 of a pid
# and mount namespace of its own, with /tmp and /var/tmp private (systemd
# cleans /tmp at boot) and sluice.service as the only unit asked for.
# Under the unit's sandbox and capability set the agent starts (notify),
# attaches, proxies a selected job's connection, reloads on
# "systemctl reload", is restarted after kill -9 while the job is refused
# in between (the pinned links), and survives its watchdog. The facts
# that need the caller's /proc (exe, lineage) are not there: the job runs
# outside the namespace's pid view, as it never does on a real host.
. tests/lib.sh

SAN=0
[ "$BUILD" = build-san ] && SAN=1
dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q installed &&
	fail "a sluice package is installed on this machine already: not touching it"
MADE_GROUPS=""
for g in sluice-approvers sluice-auditors; do
	getent group "$g" >/dev/null || MADE_GROUPS="$MADE_GROUPS $g"
done
SYSTEMD=""
unit_cleanup() {
	[ -n "$SYSTEMD" ] && ns systemctl stop sluice.service >/dev/null 2>&1
	dpkg -P sluice >/dev/null 2>&1
	[ -n "$SYSTEMD" ] && kill -KILL "$SYSTEMD" 2>/dev/null
	for g in $MADE_GROUPS; do groupdel "$g" 2>/dev/null; done
	cleanup
}
trap unit_cleanup EXIT
ns() { nsenter -t "$SYSTEMD" -m -p "$@"; }

deb=$(packaging/deb/build.sh "$SAN" "$(cat VERSION)" "$WORK/dist" | tail -n 1) || fail "make deb"
dpkg -i "$deb" > "$WORK/dpkg.out" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.out")"
setup_echo
python3 - "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for k in ("state_dir", "control_socket"):
    p["agent"].pop(k)          # the unit's own: /var/lib/sluice, /run/sluice
json.dump(p, open("/etc/sluice/policy.json", "w"), indent=2)
PY

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
exit 0
