WITH RECURSIVE tree(id, parent) AS (SELECT id, parent FROM nodes WHERE parent IS NULL UNION ALL SELECT n.id, n.parent FROM nodes n JOIN tree t ON n.parent = t.id),
gone AS (DELETE FROM nodes WHERE id IN (SELECT id FROM tree) RETURNING *),
moved AS (INSERT INTO archive SELECT * FROM gone ON CONFLICT (id) DO UPDATE SET parent = EXCLUDED.parent RETURNING id)
SELECT count(*) FROM moved;
