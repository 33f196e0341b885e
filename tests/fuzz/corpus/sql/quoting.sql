/* outer /* nested */ still comment */ SELECT 'it''s', E'\'; DROP TABLE t; --', $$ ; DELETE $$,
 $tag$ $$ $tag$, U&"d\0061ta", "select", B'1010', X'ff', 1.5e10, 'a' -- tail ; DROP
 ' b' FROM "Weird.Name" AS "x""y";
