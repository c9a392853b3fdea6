-- Rows per file and value of the column checked against reference data
-- ($reference_column): names the files that carry unknown facility or access-point ids.
select
    file_index,
    columns(lambda col_name: col_name = getvariable('reference_column')),
    count(*) as staged_rows
from ingest_rows
group by all
order by all
