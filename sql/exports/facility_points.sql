-- The located facilities, as GeoJSON points of the open-data files (longitude first).
select
    facility_id,
    lon,
    lat
from ref.facilities
where lat is not null and lon is not null
