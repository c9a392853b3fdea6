-- All-visitor estimates per facility on one day, largest first. Every published column
-- (hence the wildcard).
-- Variable: service_date.
select * from marts.all_visitors_facility_daily  -- noqa: AM04
where service_date = getvariable('service_date')
order by all_visitors_estimate desc nulls last, facility_id
