# Verified OIDC identities: tokens signed by key pairs made here (openssl),
# from the caller's environment (env:CI_JOB_JWT) and in band (the
# PostgreSQL password). Valid ones admit the job with their claims, CI facts
# and process lineage in the log and the recording; expired, not yet valid,
# wrong audience, wrong issuer, unknown kid, alg none, HS256 keyed with the
# public key, bad signature, claims that do not fit, and no token are
# refused with a reason that never quotes the token, both ways. Two issuers
# (two JWKS files) are in force at once. A token bound to its
# job's facts does not work from another cgroup. A rotated JWKS file is
# read again without a reload.
. tests/lib.sh

MKJWT="python3 tests/helpers/mkjwt.py"
pg_start
LPORT=$(free_port)
for cg in "" /env /pw /other; do mk_cgroup "/$TAG$cg"; done
$MKJWT key rsa "$WORK/rsa.pem" && $MKJWT key ec "$WORK/ec.pem" && $MKJWT key rsa "$WORK/next.pem" &&
	$MKJWT key ec "$WORK/gh.pem" || fail "keys"
$MKJWT jwks r1="$WORK/rsa.pem" e1="$WORK/ec.pem" > "$WORK/jwks.json" || fail "jwks"
$MKJWT jwks g1="$WORK/gh.pem" > "$WORK/gh.json" || fail "second jwks"
PG_ALLOW='"read","session"' write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" "/$TAG" "$WORK/jwks.json" "$WORK/gh.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
tag, jwks, gh = sys.argv[2], sys.argv[3], sys.argv[4]
token = {"issuer": "https://gitlab.test", "audience": "sluice", "jwks": jwks, "required": True}
p["identities"] = [
    {"name": "deploy", "match": {"cgroup": tag + "/env",
                                 "claims": {"sub": "project_path:g/app:*", "groups": ["deployers"]}},
     "token": dict(token, **{"from": "env:CI_JOB_JWT"}), "roles": ["t"]},
    {"name": "inband", "match": {"cgroup": tag + "/pw"},
     "token": dict(token, **{"from": "password", "issuer": "https://github.test", "jwks": gh}),
     "roles": ["t"]},
]
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"

NOW=$(date +%s)
CLAIMS_OK="{\"iss\":\"https://gitlab.test\",\"aud\":\"sluice\",\"sub\":\"project_path:g/app:ref_type:branch:ref:main\",\"groups\":[\"deployers\",\"ops\"],\"exp\":$((NOW + 600)),\"nbf\":$((NOW - 60))}"
claims() { # KEY=VALUE...: CLAIMS_OK with those claims replaced
	python3 -c '
import json, sys
c = json.loads(sys.argv[1])
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    c[k] = json.loads(v)
print(json.dumps(c))' "$CLAIMS_OK" "$@"
}
sign() { # KEY HEADER CLAIMS
	$MKJWT sign "$WORK/$1.pem" "$2" "$3" || fail "sign"
}
RS='{"alg":"RS256","kid":"r1"}'
ES='{"alg":"ES256","kid":"e1"}'

# psql from cgroup /TAG/CG through sh (so its parent is in the job too).
env_psql() { # CG TOKEN [PSQL ARGS...]
	cg=$1 tok=$2
	shift 2
	in_cgroup "/$TAG$cg" env CI_JOB_JWT="$tok" CI_PROJECT_PATH=g/app CI_JOB_ID=4242 \
		CI_PIPELINE_ID=77 CI_COMMIT_SHA=c0ffee GITHUB_REPOSITORY=o/r GITHUB_RUN_ID=5 \
		GITHUB_SHA=0123abcd GITHUB_WORKFLOW=deploy JOB_NAME=j BUILD_NUMBER=9 \
		JOB_SECRET=hunter2-$$ PGPASSWORD=not-the-password \
		PGCONNECT_TIMEOUT=10 sh -c 'psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$0" -U x -d orders "$@"' \
		"$PGPORT" "$@"
}
pw_psql() { # TOKEN [PSQL ARGS...]
	tok=$1
	shift
	in_cgroup "/$TAG/pw" env PGPASSWORD="$tok" PGCONNECT_TIMEOUT=10 \
		psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U x -d orders "$@"
}
# The command must fail and the agent's log gain REASON.
refused() { # REASON CMD...
	reason=$1
	shift
	before=$(count "$AGENT_LOG" "$reason")
	"$@" -c "select 1" >/dev/null 2>"$WORK/refused.err" && fail "accepted, wanted: $reason"
	n=50
	while [ "$(count "$AGENT_LOG" "$reason")" = "$before" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	[ $n -gt 0 ] || fail "no \"$reason\" in the log: $(cat "$WORK/refused.err")"
}

# ------------------------------------------------------- from the environment
GOOD_ES=$(sign ec "$ES" "$CLAIMS_OK")
out=$(env_psql /env "$GOOD_ES" -At -c "select current_user") || fail "a valid ES256 token was refused"
[ "$out" = app ] || fail "upstream user: $out"
GOOD_RS=$(sign rsa "$RS" "$CLAIMS_OK")
env_psql /env "$GOOD_RS" -c "select 1" >/dev/null || fail "a valid RS256 token was refused"
grep -q "SLUICE_IDENTITY=deploy" "$AGENT_LOG" || fail "not identified as deploy"
grep -q "SLUICE_TOKEN_SUBJECT=project_path:g/app:ref_type:branch:ref:main" "$AGENT_LOG" ||
	fail "no token subject in the log"
grep -q "SLUICE_TOKEN_ISSUER=https://gitlab.test" "$AGENT_LOG" || fail "no token issuer in the log"
grep -q "SLUICE_CI_PROJECT_PATH=g/app" "$AGENT_LOG" || fail "no CI_PROJECT_PATH fact"
grep -q "SLUICE_CI_JOB_ID=4242" "$AGENT_LOG" || fail "no CI_JOB_ID fact"
grep -q "SLUICE_GITHUB_SHA=0123abcd" "$AGENT_LOG" || fail "no GITHUB_SHA fact"
grep -q "SLUICE_LINEAGE=/usr/bin/dash" "$AGENT_LOG" || fail "no lineage (psql's parent sh)"
wait_recorded '"claims":\{[^}]*"sub":"project_path:g/app:ref_type:branch:ref:main"' ||
	fail "no claims in the recording"
wait_recorded '"ci":\{"CI_PROJECT_PATH":"g/app","CI_JOB_ID":"4242","CI_PIPELINE_ID":"77","CI_COMMIT_SHA":"c0ffee","GITHUB_REPOSITORY":"o/r","GITHUB_RUN_ID":"5","GITHUB_SHA":"0123abcd","GITHUB_WORKFLOW":"deploy","JOB_NAME":"j","BUILD_NUMBER":"9"\}' ||
	fail "no CI facts in the recording"
wait_recorded '"lineage":\["/usr/bin/dash"\]' || fail "no lineage in the recording"
# With every CI variable and the claims among the facts, a denied
# statement still logs what it was.
env_psql /env "$GOOD_RS" -c "create table t (a int)" 2>/dev/null && fail "a ddl statement was allowed"
grep "SLUICE_EVENT=statement" "$AGENT_LOG" | grep "SLUICE_BUILD_NUMBER=9" | grep "SLUICE_CLAIMS=" |
	grep "SLUICE_KIND=create" | grep -q "SLUICE_STATEMENT=create table" ||
	fail "the denial lost its own fields to the facts"

# Every refusal, from the environment (issuer gitlab.test, its keys).
refusals() { # RUN KEY KID ISSUER
	run=$1 key=$2 kid=$3 iss=$4
	h="{\"alg\":\"RS256\",\"kid\":\"$kid\"}"
	[ "$key" = gh ] && h="{\"alg\":\"ES256\",\"kid\":\"$kid\"}"
	c="iss=\"$iss\""
	refused "the token expired at" $run "$(sign "$key" "$h" "$(claims "$c" exp=$((NOW - 3600)))")"
	refused "the token is not valid before" $run "$(sign "$key" "$h" "$(claims "$c" nbf=$((NOW + 3600)))")"
	refused "the token's audience does not hold sluice" $run "$(sign "$key" "$h" "$(claims "$c" aud='"other"')")"
	refused "the token's issuer is not $iss" $run "$(sign "$key" "$h" "$(claims iss='"https://evil.test"')")"
	refused "unknown key id" $run "$(sign "$key" "$(echo "$h" | sed 's/"kid":"[^"]*"/"kid":"x9"/')" "$(claims "$c")")"
	refused "algorithm none is not accepted" $run "$(sign "$key" '{"alg":"none"}' "$(claims "$c")")"
	refused "algorithm HS256 is not accepted" $run "$(sign "$key" "{\"alg\":\"HS256\",\"kid\":\"$kid\"}" "$(claims "$c")")"
	# Signed by a key the JWKS does not hold, under a kid it does.
	stranger=next
	[ "$key" = gh ] && stranger=ec
	refused "bad signature" $run "$(sign "$stranger" "$h" "$(claims "$c")")"
}
from_env() { env_psql /env "$@"; }
refusals from_env rsa r1 https://gitlab.test
refused "requires a valid token: no token" env_psql /env ""
# Valid, but its claims are not the identity's: no identity matches.
refused "caller matches no identity" env_psql /env "$(sign rsa "$RS" "$(claims groups='["ops"]')")"
# Bound to its job: the same valid token from another cgroup is nobody.
refused "caller matches no identity" env_psql /other "$GOOD_RS"

# ------------------------------------------- in band, under a second issuer
GOOD_GH=$(sign gh '{"alg":"ES256","kid":"g1"}' "$(claims iss='"https://github.test"')")
out=$(pw_psql "$GOOD_GH" -At -c "select current_user") || fail "a valid in-band token was refused"
[ "$out" = app ] || fail "in band: upstream user $out"
grep -q "identified as inband by its token" "$AGENT_LOG" || fail "no in-band identification logged"
# The other issuer's valid token is not this identity's: its key is not
# in this identity's JWKS.
refused "unknown key id" pw_psql "$GOOD_RS"
refusals pw_psql gh g1 https://github.test
# The job sees why, as a FATAL 28000.
pw_psql "$(sign gh '{"alg":"ES256","kid":"g1"}' "$(claims iss='"https://github.test"' exp=$((NOW - 3600)))")" \
	-c "select 1" 2>"$WORK/pw.err" && fail "an expired in-band token was accepted"
grep -q "FATAL:  sluice: a valid token is required: the token expired" "$WORK/pw.err" ||
	fail "in band, expired: $(cat "$WORK/pw.err")"
# The job learns why, not the policy's names or paths; the log has all of it.
grep -q "inband\|$WORK" "$WORK/pw.err" && fail "the job was told names or paths: $(cat "$WORK/pw.err")"
grep -q "refused connection: identity inband requires a valid token: the token expired" "$AGENT_LOG" ||
	fail "the whole refusal is not logged"
pw_psql "hunter2-$$" -c "select 1" 2>"$WORK/pw.err" && fail "a plain password was taken for a token"
grep -q "not a JWT" "$WORK/pw.err" || fail "in band, password: $(cat "$WORK/pw.err")"
grep -q "session_refused" "$AGENT_LOG" || fail "in-band refusals not logged as refused sessions"

# ------------------------------------------------------ the JWKS is rotated
$MKJWT jwks r2="$WORK/next.pem" > "$WORK/jwks.new" && mv "$WORK/jwks.new" "$WORK/jwks.json" ||
	fail "rotate"
env_psql /env "$(sign next '{"alg":"RS256","kid":"r2"}' "$CLAIMS_OK")" -c "select 1" >/dev/null ||
	fail "a token of the rotated key set was refused"
refused "unknown key id" env_psql /env "$GOOD_RS"

# ------------------------------------------ no token or secret ever written
stop_agent
for secret in "$GOOD_RS" "$GOOD_ES" "$GOOD_GH" "${GOOD_RS##*.}" "${GOOD_ES##*.}" "${GOOD_GH##*.}" \
	"hunter2-$$"; do
	grep -qF -- "$secret" "$AGENT_LOG" && fail "the agent's log holds a token or secret"
	recordings | grep -qF -- "$secret" && fail "a recording holds a token or secret"
done
exit 0
