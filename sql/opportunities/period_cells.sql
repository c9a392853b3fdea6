-- Every cut's published moves of its period, hidden ones included (is_suppressed,
-- suppression): the cuts of fitted_cells, keyed by their five columns, in one scan instead
-- of a query per cut.
-- Variables: period_grains (a list); segments, the (segment_kind, segment) structs of the
-- cuts fitted_cells found (flowlib.opportunities: that file alone says which segments).
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
    and list_contains(getvariable('segments'), { 'segment_kind': segment_kind, 'segment': segment })
order by all
