-- The facilities a page can name and place.
select
    facility_id,
    name_ja,
    name_en,
    lat,
    lon
from ref.facilities
order by facility_id
