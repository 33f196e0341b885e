SELECT CASE WHEN a IS DISTINCT FROM b THEN ARRAY[1, 2][1] ELSE (SELECT max(x) FROM y) END::int,
 row_number() OVER (PARTITION BY a ORDER BY b ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
 a AT TIME ZONE 'UTC', '{"a":1}'::jsonb -> 'a' ->> 0, x = ANY('{1,2}'::int[]), EXISTS (SELECT 1),
 1 + 2 * 3 ^ 4 || 'x' COLLATE "C", NOT a AND b OR c, interval '1 day' + now(), $1::text IS NULL
FROM t TABLESAMPLE SYSTEM (10) WHERE (a, b) OVERLAPS (c, d) UNION ALL SELECT * FROM u EXCEPT TABLE v;
