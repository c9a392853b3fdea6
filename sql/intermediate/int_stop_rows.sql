-- materialized: daily
-- depends_on: int_sensor_stays, int_codes
-- One row per stop of every visitor's trips on a service day, as integers (int_stops is
-- the readable view of this table, the view int_trips reads the trips from it). Card taps
-- (source_code 1, entry_log) and Wi-Fi sensor stays (2, wifi_sensor) alike. The rules and
-- the windows that apply them are the table macro stop_rows (sql/macros/stop_rows.sql).
-- Batches: the runner builds this model in as many batches of visitors as
-- FLOW_STOP_BATCH_EVENTS asks for the days' events (a batch's stops are held in memory):
-- batch getvariable('visitor_batch') of getvariable('visitor_batches').
-- Two lanes: each batch is computed as two parts of its visitors, side by side in this one
-- statement. The macro's windows run in one thread per part, and DuckDB runs two parts of a
-- union at once because each ends in a window that collects its stops (a pipeline of its
-- own): at 10 M taps the model took 4.7-4.8 s instead of 5.9-6.1 s on 2 cores, the same
-- rows (four parts were slower, 5.5 s). A visitor's stops depend on that visitor's events
-- only, so the parts, like the batches, give the rows one statement over everybody gives.
select *  -- noqa: AM04
from
    stop_rows(
        'staging.stg_entry_log',
        'intermediate.int_sensor_stays',
        'intermediate.int_codes',
        getvariable('first_service_date'),
        getvariable('last_service_date'),
        2 * getvariable('visitor_batches'),
        2 * getvariable('visitor_batch')
    )
union all
select *
from
    stop_rows(
        'staging.stg_entry_log',
        'intermediate.int_sensor_stays',
        'intermediate.int_codes',
        getvariable('first_service_date'),
        getvariable('last_service_date'),
        2 * getvariable('visitor_batches'),
        2 * getvariable('visitor_batch') + 1
    )
