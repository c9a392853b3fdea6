-- What a relation ($1 schema, $2 name) is: 'BASE TABLE', 'VIEW', or no row when it does
-- not exist.
select table_type
from information_schema.tables
where table_schema = $1 and table_name = $2
