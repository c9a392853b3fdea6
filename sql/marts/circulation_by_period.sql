-- materialized: rollup
-- depends_on: int_visitor_days, int_codes
-- 周遊率 (circulation rate) per period, source kind, day type and segment: visitors, those
-- whose trip took in two or more facilities, the rate, and facilities per visitor-day
-- and revisits (returns to a facility later in the same trip, docs/routes.md; facility_role
-- 'all'); and, per facility, the visitors whose service day started there
-- (facility_role 'first') or ended there ('last'). A cell is suppressed when visitors,
-- circulating or non-circulating visitors are fewer than k: publishing a cell where
-- everyone (or no one) circulated would tell each one's trip.
-- keys: period_grain, period_start, source_kind, day_type, segment_kind, segment, facility_role, facility_id
-- counts: visitors, multi_facility_visitors, single_facility_visitors
-- suppress: visitors, multi_facility_visitors, single_facility_visitors, circulation_rate, facilities_per_visitor, revisits
-- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
-- margin: ticket_type | vary segment_kind, segment | parts segment_kind = 'ticket_type' | total segment_kind = 'all'
-- margin: day_types | vary day_type | parts day_type <> 'all' | total day_type = 'all'
-- margin: first_facility | vary facility_role, facility_id | parts facility_role = 'first' | total facility_role = 'all'
-- margin: last_facility | vary facility_role, facility_id | parts facility_role = 'last' | total facility_role = 'all'
-- additive: visitors, multi_facility_visitors, single_facility_visitors, revisits
with codes as (
    select * from period_codes(intermediate.int_codes)
),

visitor_days as (  -- noqa: ST03
    -- source and segments as codes (period_codes), decoded once the cells are counted
    select
        v.service_date,
        v.source_code,
        v.segment_code as residence,
        codes.ticket_codes[v.ticket_code] as ticket_type,
        v.visitor_id,
        v.most_facilities_in_a_trip,
        v.facilities_visited,
        v.first_facility_id,
        v.last_facility_id,
        v.revisits
    from intermediate.int_visitor_days as v
    inner join codes using (service_date)
),

typed as not materialized (
    select * from period_rows(visitor_days)
),

circulation as (
    select
        period_start, source_code, day_type,
        segment_kind_of(grouping(residence) = 0, grouping(ticket_type) = 0) as segment_kind,
        segment_of(grouping(residence) = 0, grouping(ticket_type) = 0, residence, ticket_type) as segment,
        'all' as facility_role,
        cast(null as varchar) as facility_id,
        count(distinct visitor_id) as visitors,
        count(distinct visitor_id) filter (where most_facilities_in_a_trip >= 2) as multi_facility_visitors,
        avg(facilities_visited) as facilities_per_visitor,
        sum(revisits) as revisits
    from typed
    group by
        period_start, source_code, day_type,
        grouping sets ((), (residence), (ticket_type))
    -- segments are known for card taps only
    having (source_code = 1 or (grouping(residence) = 1 and grouping(ticket_type) = 1))
),

first_and_last as (
    -- all visitors only: the first and last facility of each visitor's service day
    select
        period_start,
        source_code,
        day_type,
        'all' as segment_kind,
        0 as segment,
        facility_role,
        facility_id,
        count(distinct visitor_id) as visitors,
        cast(null as bigint) as multi_facility_visitors,
        cast(null as double) as facilities_per_visitor,
        cast(null as bigint) as revisits
    from (
        select *, 'first' as facility_role, first_facility_id as facility_id from typed
        union all
        select *, 'last' as facility_role, last_facility_id as facility_id from typed
    )
    group by all
),

counted as (  -- noqa: ST03
    select * from circulation
    union all by name
    select * from first_and_last
),

decoded as (  -- noqa: ST03
    select * from named_cells(counted, intermediate.int_codes)
),

cells as (  -- noqa: ST03
    select
        * exclude (visitors, multi_facility_visitors, facilities_per_visitor, revisits),
        visitors,
        case when facility_role = 'all' then multi_facility_visitors end as multi_facility_visitors,
        case when facility_role = 'all' then visitors - multi_facility_visitors end as single_facility_visitors,
        case when facility_role = 'all' then round(multi_facility_visitors / visitors, 4) end as circulation_rate,
        case when facility_role = 'all' then round(facilities_per_visitor, 3) end as facilities_per_visitor,
        case when facility_role = 'all' then cast(revisits as bigint) end as revisits,
        visitors < getvariable('min_cell_count')
        or (facility_role = 'all' and (
            multi_facility_visitors < getvariable('min_cell_count')
            or visitors - multi_facility_visitors < getvariable('min_cell_count')
        )) as is_suppressed,
        case
            when visitors < getvariable('min_cell_count')
                or (facility_role = 'all' and (
                    multi_facility_visitors < getvariable('min_cell_count')
                    or visitors - multi_facility_visitors < getvariable('min_cell_count')
                )) then 'primary'
        end as suppression
    from decoded
),

final as (
    select * from period_cells(cells)
)

-- noqa: disable=AM04
select * from final
