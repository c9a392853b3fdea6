-- The tiered facility pairs of one fitted period. Every published column (hence the wildcard).
-- Variables: period_grain, period_start.
select * from marts.opportunity_pairs  -- noqa: AM04
where period_grain = getvariable('period_grain') and period_start = getvariable('period_start') and tier is not null
order by source_kind, segment, from_facility_id, promote_rank
