-- The cuts the gravity model is fitted on: every period of the wanted grains, source kind and
-- segment (all visitors, and domestic / international residents) of the transitions mart.
-- Variable: period_grains (a list).
select distinct
    period_grain,
    period_label,
    source_kind,
    period_start,
    segment_kind,
    segment
from marts.transitions_by_period
where
    list_contains(getvariable('period_grains'), period_grain) and day_type = 'all'
    and (segment_kind = 'all' or (segment_kind = 'residence' and segment in ('domestic', 'international')))
order by all
