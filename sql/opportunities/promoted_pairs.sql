-- The destinations to promote from each facility in one fitted week (all visitors, card taps),
-- under-connected first.
-- Variable: period_start.
select
    from_facility_id,
    to_facility_id,
    tier
from marts.opportunity_pairs
where
    period_grain = 'iso_week' and period_start = getvariable('period_start') and source_kind = 'entry_log'
    and segment = 'all' and promote_rank is not null
order by from_facility_id, promote_rank
