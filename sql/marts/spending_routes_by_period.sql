-- materialized: rollup
-- depends_on: int_visitor_days, int_trips, circulation_by_period, routes_by_period
-- Which routes bring more paid admissions (消費喚起): admission revenue per visitor-day
-- by the first facility of the day (breakdown 'first_facility'; 'all' is every
-- visitor-day), and per trip by whole-trip route of 2 to 5 stops (breakdown 'route'). A
-- trip's revenue is the POS amount of every admission between its first and last stop.
-- Cashless admissions (entry_log) only. The cells count the same cards as cells of
-- circulation_by_period (all visitors; first facility of the day) and routes_by_period
-- (routes), so each is hidden whenever its twin is: the marts together give back nothing
-- that one of them hides.
-- keys: period_grain, period_start, day_type, breakdown, facility_id, route
-- counts: visitors
-- suppress: visitors, visitor_days, trips, paid_admissions, revenue_jpy, paid_admissions_per_unit, revenue_per_unit_jpy
-- margin: first_facility | vary breakdown, facility_id, route | parts breakdown = 'first_facility' | total breakdown = 'all'
-- additive: visitor_days, trips, paid_admissions, revenue_jpy, paid_admissions_per_unit, revenue_per_unit_jpy
with codes as (
    select * from period_codes(intermediate.int_codes)
),

names as (
    select * from period_names(intermediate.int_codes)
),

admissions as (
    select
        service_date,
        visitor_id,
        entered_at,
        coalesce(amount_jpy, 0) as amount_jpy
    from staging.stg_entry_log
    where service_date between getvariable('period_first_day') and getvariable('period_last_day')
),

day_spend as (
    select
        service_date,
        visitor_id,
        count(*) filter (where amount_jpy > 0) as paid_admissions,
        sum(amount_jpy) as revenue_jpy
    from admissions
    group by all
),

visitor_days as (
    select
        v.service_date,
        v.visitor_id,
        v.first_facility_id,
        coalesce(s.paid_admissions, 0) as paid_admissions,
        coalesce(s.revenue_jpy, 0) as revenue_jpy
    from intermediate.int_visitor_days as v
    left join day_spend as s using (service_date, visitor_id)
    where v.source_kind = 'entry_log'
        and v.service_date between getvariable('period_first_day') and getvariable('period_last_day')
),

trips as (
    select
        t.service_date,
        t.visitor_id,
        t.trip_index,
        t.short_route_codes,
        count(a.visitor_id) filter (where a.amount_jpy > 0) as paid_admissions,
        coalesce(sum(a.amount_jpy), 0) as revenue_jpy
    from intermediate.int_trips as t
    left join admissions as a
        on a.service_date = t.service_date
            and a.visitor_id = t.visitor_id
            and a.entered_at between t.started_at and t.ended_at
    where t.source_code = 1
        and t.n_stops between 2 and 5
        and t.service_date between getvariable('period_first_day') and getvariable('period_last_day')
    group by all
),

visitor_routes as (
    -- each visitor-day's trips per route: every cell then holds one row per visitor-day. A
    -- route is its stops' period codes (period_codes) until the cells are counted (grouping
    -- on the route text: 0.71 s instead of 0.58 s for a 2 M-tap day)
    select
        trips.service_date,
        trips.visitor_id,
        period_route_codes(trips.short_route_codes, codes.facility_codes) as route,
        count(*) as trips,
        sum(trips.paid_admissions) as paid_admissions,
        sum(trips.revenue_jpy) as revenue_jpy
    from trips
    inner join codes using (service_date)
    group by all
),

units as (  -- noqa: ST03
    -- one row per visitor-day and cell; units: what the per-unit figures divide by (the
    -- visitor-day, or the route's trips)
    select
        service_date,
        'all' as breakdown,
        'all' as facility_id,
        cast(null as bigint) as route,
        visitor_id,
        0 as trips,
        1 as units,
        paid_admissions,
        revenue_jpy
    from visitor_days
    union all
    select service_date, 'first_facility', first_facility_id, null, visitor_id, 0, 1, paid_admissions, revenue_jpy
    from visitor_days
    union all
    select service_date, 'route', 'all', route, visitor_id, trips, trips as units, paid_admissions, revenue_jpy
    from visitor_routes
),

twins as (
    -- the same cells, already protected in this transaction
    select
        period_start, day_type, case facility_role when 'all' then 'all' else 'first_facility' end as breakdown,
        coalesce(facility_id, 'all') as facility_id, cast(null as varchar) as route, is_suppressed
    from marts.circulation_by_period
    where period_grain = getvariable('period_grain') and source_kind = 'entry_log'
        and segment_kind = 'all' and facility_role in ('all', 'first')
        and period_start between getvariable('period_first_day') and getvariable('period_last_day')
    union all
    select period_start, day_type, 'route', 'all', route, bool_or(is_suppressed)
    from marts.routes_by_period
    where period_grain = getvariable('period_grain') and source_kind = 'entry_log'
        and segment_kind = 'all' and route is not null
        and period_start between getvariable('period_first_day') and getvariable('period_last_day')
    group by all
),

typed as not materialized (
    select * from period_rows(units)
),

visitor_rows as (  -- noqa: ST03
    -- each visitor-day's row in a cell, for visitor_counts (sql/macros/period_steps.sql)
    select period_start, day_type, breakdown, facility_id, route, visitor_id, 1 as events
    from typed
),

visitors as (
    select * exclude (events) from visitor_counts(visitor_rows)
),

sums as (
    -- a cell's rows are its visitor-days (a card once per day and cell)
    select
        period_start, day_type,
        breakdown,
        facility_id,
        route,
        count(*) as visitor_days,
        sum(trips)::bigint as trips,
        sum(paid_admissions) as paid_admissions,
        sum(revenue_jpy) as revenue_jpy,
        sum(units)::bigint as units
    from typed
    group by all
),

counted as (
    select
        sums.*,
        visitors.visitors
    from sums
    inner join visitors
        on sums.period_start = visitors.period_start and sums.day_type = visitors.day_type
            and sums.breakdown = visitors.breakdown and sums.facility_id = visitors.facility_id
            and sums.route is not distinct from visitors.route
),

decoded as (
    -- routes spelled out once counted (route_name), to meet their twins
    select
        counted.* exclude (route),
        case when counted.route is not null then route_name(counted.route, names.facility_ids) end as route
    from counted
    cross join names
),

final as (
    select
        getvariable('period_grain') as period_grain,
        counted.period_start,
        periods.period_end,
        periods.period_label,
        counted.day_type,
        counted.breakdown,
        counted.facility_id,
        counted.route,
        visitors,
        visitor_days,
        case when counted.breakdown = 'route' then trips end as trips,
        cast(paid_admissions as bigint) as paid_admissions,
        cast(revenue_jpy as bigint) as revenue_jpy,
        round(paid_admissions / units, 3) as paid_admissions_per_unit,
        round(revenue_jpy / units, 1) as revenue_per_unit_jpy,
        hidden_with_twin(visitors, twins.is_suppressed) as is_suppressed,
        suppression_with_twin(visitors, twins.is_suppressed) as suppression
    from decoded as counted
    inner join grain_periods(ref.calendar_periods) as periods on counted.period_start = periods.period_start  -- noqa: RF01
    left join twins
        on twins.period_start = counted.period_start and twins.day_type = counted.day_type
            and twins.breakdown = counted.breakdown and twins.facility_id = counted.facility_id
            and twins.route is not distinct from counted.route
)

select * from final
