-- The columns of a table ($1 schema, $2 name) in order, with their types: flowlib.models
-- compares them with a model's output to decide whether the table must be rebuilt.
select
    column_name,
    data_type
from information_schema.columns
where table_schema = $1 and table_name = $2
order by ordinal_position
