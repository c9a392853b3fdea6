-- materialized: daily
-- Stops of each visitor's trips on one service day. Taps are ordered by time with the
-- facility id as a deterministic tie-break; a re-entry at the same facility within
-- reentry_gap_minutes is the same stop; a gap longer than trip_max_gap_minutes after the
-- previous stop's last tap starts a new trip. Trips never cross the service-day boundary
-- because the day is the partition.
with taps as (
    select
        service_date,
        'entry_log' as source_kind,
        visitor_key,
        facility_id,
        entered_at,
        segment,
        ticket_type
    from staging.stg_entry_log
    where service_date = getvariable('service_date')
),

ordered_taps as (
    select
        *,
        lag(facility_id) over visitor_taps as previous_facility_id,
        lag(entered_at) over visitor_taps as previous_entered_at
    from taps
    window visitor_taps as (partition by visitor_key order by entered_at, facility_id)
),

flagged_taps as (
    select
        *,
        case
            when previous_facility_id is null then 1
            when facility_id <> previous_facility_id then 1
            when entered_at - previous_entered_at > to_minutes(getvariable('reentry_gap_minutes')) then 1
            else 0
        end as starts_stop
    from ordered_taps
),

numbered_taps as (
    select
        *,
        sum(starts_stop) over (
            partition by visitor_key order by entered_at, facility_id
            rows between unbounded preceding and current row
        ) as stop_index
    from flagged_taps
),

stops as (
    select
        service_date,
        source_kind,
        visitor_key,
        stop_index,
        min(facility_id) as facility_id,
        min(entered_at) as arrived_at,
        max(entered_at) as last_seen_at,
        count(*) as taps,
        min(segment) as segment,
        min(ticket_type) as ticket_type
    from numbered_taps
    group by all
),

trip_breaks as (
    select
        *,
        case
            when lag(last_seen_at) over visitor_stops is null then 1
            when arrived_at - lag(last_seen_at) over visitor_stops
                > to_minutes(getvariable('trip_max_gap_minutes')) then 1
            else 0
        end as starts_trip
    from stops
    window visitor_stops as (partition by visitor_key order by stop_index)
),

trip_numbered as (
    select
        *,
        sum(starts_trip) over (
            partition by visitor_key order by stop_index
            rows between unbounded preceding and current row
        ) as trip_index
    from trip_breaks
),

final as (
    select
        service_date,
        source_kind,
        visitor_key,
        cast(trip_index as integer) as trip_index,
        cast(row_number() over (partition by visitor_key, trip_index order by stop_index) as integer) as stop_number,
        facility_id,
        arrived_at,
        last_seen_at,
        cast(taps as integer) as taps,
        segment,
        ticket_type
    from trip_numbered
)

select * from final
