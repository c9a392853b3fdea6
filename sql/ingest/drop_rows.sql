-- Rows set aside by the repeat, conflict or Great Expectations checks (ingest_dropped),
-- and every row of a file found to be a second copy ($copy_files), leave the staging.
delete from ingest_rows
where
    list_contains(getvariable('copy_files'), file_index)
    or (file_index, line_number) in (
        select (d.file_index, d.line_number) from ingest_dropped as d
    );

delete from ingest_dropped;
