-- materialized: rollup
-- depends_on: int_sensor_stays, int_visitor_days, int_codes
-- Admissions (card taps, re-entries included) or sensor stays, and distinct visitors, per
-- facility and period, for the whole day (hour_of_day null) and per JST clock hour of the
-- admission (the hour-of-day profile). Resident sensor devices are left out.
-- keys: period_grain, period_start, source_kind, day_type, segment_kind, segment, facility_id, hour_of_day
-- counts: visitors
-- suppress: entries, visitors
-- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
-- margin: ticket_type | vary segment_kind, segment | parts segment_kind = 'ticket_type' | total segment_kind = 'all'
-- margin: day_types | vary day_type | parts day_type <> 'all' | total day_type = 'all'
-- margin: hours | vary hour_of_day | parts hour_of_day is not null | total hour_of_day is null
-- additive: entries, visitors
with codes as (
    select * from period_codes(intermediate.int_codes)
),

names as (
    select * from period_names(intermediate.int_codes)
),

facilities as (
    -- each facility's period code: the cells' columns are integers, decoded once counted
    select * from period_facilities(intermediate.int_codes)
),

entry_events as (
    select
        service_date,
        1 as source_code,
        visitor_id,
        facility_id,
        entered_at as event_at
    from staging.stg_entry_log
    where service_date between getvariable('period_first_day') and getvariable('period_last_day')
),

sensor_events as (
    select
        service_date,
        2 as source_code,
        device_id as visitor_id,
        facility_id,
        started_at as event_at
    from intermediate.int_sensor_stays
    where service_date between getvariable('period_first_day') and getvariable('period_last_day')
        and not is_resident_device
),

events as (
    select * from entry_events
    union all
    select * from sensor_events
),

visitor_days as (
    select
        visitor_days.service_date,
        visitor_days.source_code,
        visitor_days.visitor_id,
        visitor_days.segment_code,
        codes.ticket_codes[visitor_days.ticket_code] as ticket_code
    from intermediate.int_visitor_days as visitor_days
    inner join codes using (service_date)
    where visitor_days.service_date between getvariable('period_first_day') and getvariable('period_last_day')
),

classified as (  -- noqa: ST03
    select
        events.service_date,
        events.source_code,
        visitor_days.segment_code as residence,
        visitor_days.ticket_code as ticket_type,
        facilities.facility_code,
        cast(hour(events.event_at) as smallint) as hour_of_day,
        events.visitor_id
    from events
    inner join visitor_days using (service_date, source_code, visitor_id)
    inner join facilities using (facility_id)
),

typed as not materialized (
    select * from period_rows(classified)
),

visitor_entries as (  -- noqa: ST03
    -- each visitor's entries per facility, before the segments multiply them (visitor_cells)
    select
        * exclude (service_date, hour_of_day),
        count(*) as events
    from typed
    group by all
),

visitor_hours as (  -- noqa: ST03
    -- each visitor's entries per facility and hour of the day
    select
        * exclude (service_date, residence, ticket_type),
        count(*) as events
    from typed
    group by all
),

hour_cells as (
    -- the hour-of-day profile of all visitors (visitor_counts: on a day a visitor's entries
    -- in one hour are one row)
    select * rename (events as entries) from visitor_counts(visitor_hours)
),

counted as (  -- noqa: ST03
    -- the whole day per segment, and the hour-of-day profile of all visitors
    select
        period_start, source_code, day_type, segment_kind, segment, facility_code,
        cast(null as smallint) as hour_of_day,
        events as entries,
        visitors
    from visitor_cells(visitor_entries)
    union all
    select
        period_start, source_code, day_type, 'all', 0, facility_code,
        hour_of_day, entries, visitors
    from hour_cells
),

decoded as (  -- noqa: ST03
    select
        counted.period_start,
        counted.source_code,
        counted.day_type,
        counted.segment_kind,
        counted.segment,
        names.facility_ids[counted.facility_code] as facility_id,
        counted.hour_of_day,
        counted.entries,
        counted.visitors
    from counted
    cross join names
),

named as (  -- noqa: ST03
    select * from named_cells(decoded, intermediate.int_codes)
),

final as (
    select * from published_cells(named)
)

-- noqa: disable=AM04
select * from final
