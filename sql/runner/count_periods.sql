-- Rows a roll-up model ($1, schema.name) holds for the periods of grain $2 starting on the
-- days in the list $3.
select count(*) as stored
from query_table($1)
where period_grain = $2 and list_contains($3, period_start)
