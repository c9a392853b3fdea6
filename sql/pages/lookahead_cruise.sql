-- The cruise timetable. Every column (hence the wildcard).
select * from staging.stg_cruise_call  -- noqa: AM04
order by service_date
