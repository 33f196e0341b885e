SELECT a.id, b."Name", count(*) FILTER (WHERE a.x > 1) AS n
FROM s.accounts a JOIN public.branches b USING (bid)
LEFT JOIN LATERAL (SELECT * FROM history h WHERE h.aid = a.id LIMIT 1) h ON true
WHERE a.balance BETWEEN 1 AND 100 AND b."Name" ILIKE 'x%' OR a.id IN (1, 2, 3)
GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1 DESC NULLS LAST LIMIT 10 OFFSET 5 FOR UPDATE OF a SKIP LOCKED;
