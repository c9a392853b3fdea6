-- The ten largest published moves of one ISO week per source kind (all day types, all
-- visitors). Every published column and the rank (hence the wildcard).
-- Variable: period_start.
with ranked as (
    select
        *,
        row_number() over (
            partition by source_kind order by transitions desc, from_facility_id, to_facility_id
        ) as n
    from period_cut('marts.transitions_by_period', 'iso_week', getvariable('period_start'))
    where segment_kind = 'all' and not is_suppressed and transitions is not null
)

select * from ranked  -- noqa: AM04
where n <= 10
order by source_kind, n
