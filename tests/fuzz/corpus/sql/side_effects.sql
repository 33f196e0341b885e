SELECT pg_read_file('/etc/passwd'), lo_import('/etc/shadow'), lo_export(1, '/tmp/x'),
 pg_terminate_backend(pid), pg_advisory_xact_lock(1), dblink_exec('c', 'DROP TABLE t'),
 query_to_xml('SELECT 1', true, true, ''), txid_current(), pg_ls_dir('.')
FROM pg_stat_activity, LATERAL pg_stat_file('x') f;
