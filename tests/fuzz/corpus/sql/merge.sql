MERGE INTO stock s USING (VALUES (1, 10), (2, 0)) AS v(item, qty) ON s.item = v.item
WHEN MATCHED AND v.qty = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET qty = s.qty + v.qty
WHEN NOT MATCHED THEN INSERT VALUES (v.item, v.qty);
