-- The 20 largest published all-visitor move estimates of one day. Every published column
-- (hence the wildcard).
-- Variable: service_date.
select * from marts.all_visitors_flows_daily  -- noqa: AM04
where service_date = getvariable('service_date') and measure = 'transition' and not is_suppressed
order by all_visitors_estimate desc nulls last, from_facility_id, to_facility_id
limit 20
