-- The tourism areas a coverage gap can name.
select
    area_id,
    name_ja,
    name_en
from ref.areas
