-- materialized: view
-- depends_on: int_stop_rows, int_codes
-- One row per stop of every visitor's trips on a service day, for card taps (entry_log)
-- and Wi-Fi sensor stays (wifi_sensor) alike; source_kind keeps the two apart everywhere.
-- The rules (re-entries, trips, the next stop of the same trip, the visitor's segment and
-- ticket type) are in int_stop_rows, which stores the stops as integers; this view decodes
-- them (int_codes: the day's facility ids and ticket types) and keeps the source and facility
-- codes (and the segment and ticket codes) beside them: a day's rows join and group on small integers (int_transitions), and
-- only what is kept is decoded. A facility code holds for its service day only.
with stop_rows as (
    select * from intermediate.int_stop_rows
),

codes as (
    select * from intermediate.int_codes
),

final as (
    select
        stop_rows.service_date,
        stop_rows.source_code,
        ['entry_log', 'wifi_sensor'][stop_rows.source_code] as source_kind,
        stop_rows.visitor_id,
        stop_rows.trip_index,
        stop_rows.stop_number,
        stop_rows.facility_code,
        codes.facility_ids[stop_rows.facility_code] as facility_id,
        stop_rows.arrived_at,
        stop_rows.last_seen_at,
        stop_rows.taps,
        stop_rows.revisits,
        stop_rows.next_facility_code,
        codes.facility_ids[stop_rows.next_facility_code] as next_facility_id,
        stop_rows.next_arrived_at,
        ['domestic', 'international', 'unknown'][stop_rows.segment_code] as segment,
        codes.ticket_types[stop_rows.ticket_code] as ticket_type,
        stop_rows.segment_code,
        stop_rows.ticket_code
    from stop_rows
    inner join codes using (service_date)
)

select * from final
