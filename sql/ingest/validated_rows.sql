-- The staged rows in delivery order, as Great Expectations checks them chunk by chunk:
-- the validated columns ($validated_columns) with the file and line they came from.
select
    file_index,
    line_number,
    columns(lambda col_name: list_contains(getvariable('validated_columns'), col_name))
from ingest_rows
order by file_index, line_number
