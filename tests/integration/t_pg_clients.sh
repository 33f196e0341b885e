# Real clients through the agent, each from the job cgroup with a wrong
# password: pgbench (init, then -M simple/extended/prepared with the
# select-only and TPC-B-like scripts), pg_dump (plain: byte for byte equal to
# a direct dump; custom: same SQL once restored) and pg_restore into an empty
# database with the same content as the source.
. tests/lib.sh

setup_pg env SLUICE_DEBUG=1
APP_PW=$(cat "$WORK/app.pw")

# A client binary run as the job: from the cgroup, to the server's address,
# with a password the server would refuse.
job() { # CMD ARGS...
	cmd=$1
	shift
	in_cgroup "/$TAG" env PGPASSWORD=wrong PGCONNECT_TIMEOUT=10 \
		"$PGBIN/$cmd" -h 127.0.0.2 -p "$PGPORT" -U whoever "$@"
}

# The same binary straight to the server as "app" with the real password.
direct() { # CMD ARGS...
	cmd=$1
	shift
	PGPASSWORD="$APP_PW" "$PGBIN/$cmd" -h 127.0.0.2 -p "$PGPORT" -U app "$@"
}

sessions() { count "$AGENT_LOG" "authenticated to target orders-db as app"; }

# ------------------------------------------------------------------ pgbench
before=$(sessions)
job pgbench -i -s 1 -q orders >"$WORK/init.out" 2>&1 ||
	fail "pgbench -i through the agent failed: $(tail -n 5 "$WORK/init.out")"
[ "$(sessions)" -gt "$before" ] || fail "pgbench -i did not go through the agent"
n=$(direct psql -X -At -d orders -c "select count(*) from pgbench_accounts") ||
	fail "count of pgbench_accounts failed"
[ "$n" = 100000 ] || fail "pgbench -i made $n accounts, want 100000"

CLIENTS=4 TX=50
want=$((CLIENTS * TX))
for mode in simple extended prepared; do
	for script in select-only tpcb-like; do
		case $script in select-only) opt=-S ;; *) opt= ;; esac
		out="$WORK/pgbench-$mode-$script.out"
		before=$(sessions)
		rc=0
		job pgbench -n -M "$mode" $opt -c "$CLIENTS" -j 2 -t "$TX" orders >"$out" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || fail "pgbench -M $mode $script exited with $rc: $(tail -n 5 "$out")"
		grep -q "^number of transactions actually processed: $want/$want\$" "$out" ||
			fail "pgbench -M $mode $script: want $want/$want transactions, got: $(grep 'processed' "$out")"
		grep -q "^number of failed transactions: 0 " "$out" ||
			fail "pgbench -M $mode $script: failures reported: $(grep 'failed' "$out")"
		# One connection per client, each through the agent.
		[ $(( $(sessions) - before )) -ge "$CLIENTS" ] ||
			fail "pgbench -M $mode $script: $(( $(sessions) - before )) sessions through the agent, want $CLIENTS"
	done
done
# Pipelining (extended protocol, several queries before one Sync), and a
# new connection for every transaction.
cat >"$WORK/pipeline.sql" <<'SQL'
\set aid random(1, 100000)
\startpipeline
select abalance from pgbench_accounts where aid = :aid;
update pgbench_accounts set abalance = abalance + 1 where aid = :aid;
select count(*) from pgbench_branches;
\endpipeline
SQL
for run in "-M prepared -f $WORK/pipeline.sql" "-M extended -f $WORK/pipeline.sql" "-M simple -S -C"; do
	rc=0
	job pgbench -n $run -c "$CLIENTS" -j 2 -t "$TX" orders >"$WORK/pgbench-more.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "pgbench $run exited with $rc: $(tail -n 5 "$WORK/pgbench-more.out")"
	grep -q "^number of transactions actually processed: $want/$want\$" "$WORK/pgbench-more.out" ||
		fail "pgbench $run: want $want/$want transactions, got: $(grep 'processed' "$WORK/pgbench-more.out")"
	grep -q "^number of failed transactions: 0 " "$WORK/pgbench-more.out" ||
		fail "pgbench $run: failures reported: $(grep 'failed' "$WORK/pgbench-more.out")"
done
n=$(direct psql -X -At -d orders -c "select sum(abalance) from pgbench_accounts") || fail "sum of abalance"
[ "$n" -ne 0 ] 2>/dev/null || fail "the pipelined updates changed nothing (sum $n)"

n=$(direct psql -X -At -d orders -c "select count(*) from pgbench_history") ||
	fail "count of pgbench_history failed"
[ "$n" = $((3 * want)) ] || fail "pgbench_history has $n rows, want $((3 * want)) (3 TPC-B-like runs)"
direct psql -X -q -d orders -c "drop table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers" ||
	fail "could not drop the pgbench tables"

# ------------------------------------------------------------- seeded data
# Made directly by app, so that app's dumps cover everything.
direct psql -X -q -v ON_ERROR_STOP=1 -d orders >"$WORK/seed.out" 2>&1 <<'SQL' || fail "seeding failed: $(tail -n 5 "$WORK/seed.out")"
create type status as enum ('new', 'paid', 'shipped');
create table customers (
	id serial primary key,
	name text not null,
	email text unique,
	tags text[],
	profile jsonb,
	created timestamptz not null default '2024-01-02 03:04:05+00'
);
create table orders (
	id bigint generated always as identity primary key,
	customer int references customers(id),
	status status not null default 'new',
	amount numeric(12, 2),
	lines int[],
	note text,
	payload bytea,
	meta json
);
create index orders_customer_status on orders (customer, status);
create table blobs (id int primary key, body text, raw bytea);
create view paid_totals as
	select customer, sum(amount) as total from orders where status = 'paid' group by customer;
create function order_total(c int) returns numeric language sql stable
	as $$ select coalesce(sum(amount), 0) from orders where customer = c $$;
comment on table orders is 'orders, with ''quotes'' and ünïcödé';

insert into customers (name, email, tags, profile)
	select 'customer ' || i,
	       case when i % 7 = 0 then null else 'c' || i || '@example.test' end,
	       case when i % 5 = 0 then null else array['t' || (i % 3), 'tab	and "quote"', null] end,
	       case when i % 4 = 0 then null
		    else jsonb_build_object('i', i, 'nested', jsonb_build_object('k', repeat('x', i % 50)), 'arr', jsonb_build_array(1, 'two', null)) end
	from generate_series(1, 2000) i;
insert into orders (customer, status, amount, lines, note, payload, meta)
	select 1 + i % 2000,
	       (array['new', 'paid', 'shipped'])[1 + i % 3]::status,
	       case when i % 11 = 0 then null else (i * 37 % 100000) / 100.0 end,
	       array[i, i * 2, i * 3],
	       case when i % 9 = 0 then null else E'line one\nline\ttwo \\ back ' || md5(i::text) end,
	       case when i % 6 = 0 then null else decode(md5(i::text) || '00ff', 'hex') end,
	       case when i % 8 = 0 then null else json_build_object('n', i, 's', 'ü' || i) end
	from generate_series(1, 20000) i;
-- Values far larger than the agent's 64 KiB buffer and its 1 MiB message
-- bound: rows and COPY data stream through.
insert into blobs
	select 1, string_agg(md5(i::text), '' order by i), null from generate_series(1, 100000) i;
insert into blobs
	select 2, null, decode(string_agg(md5(i::text), '' order by i), 'hex') from generate_series(1, 150000) i;
insert into blobs values (3, '', '\x');
-- Large objects: pg_dump reads and pg_restore writes them with FunctionCall.
select lo_from_bytea(0, decode(string_agg(md5(i::text), '' order by i), 'hex')) from generate_series(1, 100000) i;
select lo_from_bytea(0, 'small object');
SQL

# Content of the seeded database as checksums (run directly, any db).
checksums() { # DB
	direct psql -X -At -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
select 'customers', count(*), md5(string_agg(c::text, '|' order by c.id)) from customers c;
select 'orders', count(*), md5(string_agg(o::text, '|' order by o.id)) from orders o;
select 'blobs', count(*), md5(string_agg(coalesce(md5(body), '-') || coalesce(md5(raw), '-'), '|' order by id)) from blobs;
select 'large objects', count(*), md5(string_agg(md5(lo_get(oid)), '|' order by oid)) from pg_largeobject_metadata;
select 'view', md5(string_agg(v::text, '|' order by customer)) from paid_totals v;
select 'function', order_total(42), order_total(1999);
select 'index', count(*) from pg_indexes where indexname = 'orders_customer_status';
select 'sequence', sequencename, last_value from pg_sequences order by sequencename;
SQL
}
checksums orders >"$WORK/sum.src" || fail "checksums of the source failed"
grep -q '^blobs|3|' "$WORK/sum.src" || fail "seeded blobs missing: $(cat "$WORK/sum.src")"
grep -q '^large objects|2|' "$WORK/sum.src" || fail "seeded large objects missing: $(cat "$WORK/sum.src")"

# A 3.2 MB value read through the agent with psql, and its md5 on the server.
job psql -X -At -d orders -c "select body from blobs where id = 1" >"$WORK/big.out" 2>&1 ||
	fail "select of a 3 MB value through the agent failed: $(tail -c 300 "$WORK/big.out")"
want_md5=$(direct psql -X -At -d orders -c "select md5(body || E'\n') from blobs where id = 1")
got_md5=$(md5sum <"$WORK/big.out" | cut -d' ' -f1)
[ "$got_md5" = "$want_md5" ] ||
	fail "3 MB value through the agent: md5 $got_md5 ($(wc -c <"$WORK/big.out") bytes), want $want_md5"

# ------------------------------------------------------------------ pg_dump
# Plain format: the dump through the agent equals the direct one byte for byte
# (with a fixed psql \restrict key; pg_dump picks a random one otherwise).
KEY=--restrict-key=sluicetest
job pg_dump -Fp "$KEY" -d orders -f "$WORK/agent.sql" 2>"$WORK/dump.err" ||
	fail "pg_dump -Fp through the agent failed: $(tail -n 5 "$WORK/dump.err")"
direct pg_dump -Fp "$KEY" -d orders -f "$WORK/direct.sql" || fail "direct pg_dump -Fp failed"
[ "$(wc -c <"$WORK/direct.sql")" -gt 5000000 ] || fail "direct dump is only $(wc -c <"$WORK/direct.sql") bytes"
cmp "$WORK/agent.sql" "$WORK/direct.sql" >"$WORK/cmp.out" 2>&1 ||
	fail "plain dumps differ: $(cat "$WORK/cmp.out") (sizes $(wc -c <"$WORK/agent.sql") and $(wc -c <"$WORK/direct.sql"))"

# Custom format: it embeds the time of the dump, so compare the SQL it holds.
job pg_dump -Fc -d orders -f "$WORK/agent.dump" 2>"$WORK/dump.err" ||
	fail "pg_dump -Fc through the agent failed: $(tail -n 5 "$WORK/dump.err")"
direct pg_dump -Fc -d orders -f "$WORK/direct.dump" || fail "direct pg_dump -Fc failed"
"$PGBIN/pg_restore" "$KEY" -f "$WORK/agent.dump.sql" "$WORK/agent.dump" || fail "pg_restore -f of the agent's dump failed"
"$PGBIN/pg_restore" "$KEY" -f "$WORK/direct.dump.sql" "$WORK/direct.dump" || fail "pg_restore -f of the direct dump failed"
cmp "$WORK/agent.dump.sql" "$WORK/direct.dump.sql" >"$WORK/cmp.out" 2>&1 ||
	fail "custom dumps restore to different SQL: $(cat "$WORK/cmp.out")"

# ---------------------------------------------------------------- pg_restore
# Into a new empty database, through the agent; the content must match.
pg_super -c "create database restored owner app" || fail "create database restored"
job pg_restore -d restored --exit-on-error "$WORK/agent.dump" >"$WORK/restore.out" 2>&1 ||
	fail "pg_restore through the agent failed: $(tail -n 5 "$WORK/restore.out")"
grep -q 'postgres startup as "whoever" to database "restored"' "$AGENT_LOG" ||
	fail "pg_restore did not go through the agent"
wait_recorded '"path":"function",.*"function_oid":[1-9]' ||
	fail "no FunctionCall (large objects) seen by the agent"
checksums restored >"$WORK/sum.restored" || fail "checksums of the restored database failed"
cmp "$WORK/sum.src" "$WORK/sum.restored" >/dev/null ||
	fail "restored database differs from the source: $(diff "$WORK/sum.src" "$WORK/sum.restored" | tr '\n' ' ')"

grep -q "protocol violation" "$AGENT_LOG" && fail "the agent reported a protocol violation"
stop_agent
