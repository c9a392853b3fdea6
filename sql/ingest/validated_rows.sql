-- The staged rows in delivery order, as Great Expectations checks them chunk by chunk:
-- the validated columns ($validated_columns) with the file and line they came from. The
-- staging holds them in that order (ready_rows.sql), and a plain scan keeps it
-- (preserve_insertion_order): a sort of every staged row spilled at the ingest's memory limit.
select
    file_index,
    line_number,
    columns(lambda col_name: list_contains(getvariable('validated_columns'), col_name))
from ingest_rows
