COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true) WHERE a > 0;
COPY (SELECT * FROM t) TO STDOUT (FORMAT binary);
COPY t TO '/tmp/x.csv';
COPY t FROM PROGRAM 'gunzip -c /tmp/x.gz';
