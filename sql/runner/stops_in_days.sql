-- Stops (card stops and sensor stays) built for the service days $1 .. $2: how many values
-- a roll-up's quartiles over those days hold at most per segment row.
select count(*) as stops
from intermediate.int_stop_rows
where service_date between $1 and $2
