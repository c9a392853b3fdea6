-- Every facility a measure file may name.
select facility_id
from ref.facilities
