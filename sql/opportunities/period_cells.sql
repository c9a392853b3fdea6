-- Every cut's published moves of its period, hidden ones included (is_suppressed,
-- suppression): the cuts of fitted_cells, keyed by their five columns, in one scan instead
-- of a query per cut.
-- Variable: period_grains (a list).
select
    period_grain,
    period_start,
    source_kind,
    segment_kind,
    segment,
    from_facility_id,
    to_facility_id,
    transitions,
    is_suppressed,
    suppression
from marts.transitions_by_period
where
    list_contains(getvariable('period_grains'), period_grain) and day_type = 'all'
    and (segment_kind = 'all' or (segment_kind = 'residence' and segment in ('domestic', 'international')))
order by all
