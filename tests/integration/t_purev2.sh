# The agent on a pure cgroup v2 host: in a private mount namespace the
# cgroup2 hierarchy is mounted at /sys/fs/cgroup itself, as on such a host.
# (On a pure v2 test machine this simply repeats the basic case.)
. tests/lib.sh

setup_echo
start_agent "$WORK/policy.json" unshare -m --propagation private sh -c '
	umount -R /sys/fs/cgroup 2>/dev/null
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 70
	exec "$@"' sh
grep -q "cgroup root /sys/fs/cgroup," "$AGENT_LOG" || fail "agent did not use /sys/fs/cgroup as the cgroup2 root"

out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT") || fail "probe failed"
pid=${out#pid=}; pid=${pid%% *}
wait_for "$AGENT_LOG" "session_start.*SLUICE_CGROUP=/$TAG .*SLUICE_PID=$pid " ||
	fail "session not seen with the right cgroup"
stop_agent
