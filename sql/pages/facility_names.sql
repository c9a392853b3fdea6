-- Facility names for the look-ahead pages.
select
    facility_id,
    name_ja,
    name_en
from ref.facilities
