-- Where each facility is (the gravity model's distances).
select
    facility_id,
    lat,
    lon
from ref.facilities
order by facility_id
