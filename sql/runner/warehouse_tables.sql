-- Every table of the warehouse file (schema.name, in order): flowlib.build_state digests them.
select schema_name || '.' || table_name as relation
from duckdb_tables()
where database_name = current_database() and not temporary
order by schema_name, table_name
