-- Staged rows per file: what each file would load.
select
    file_index,
    count(*) as staged_rows
from ingest_rows
group by file_index
order by file_index
