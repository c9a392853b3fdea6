-- The city's all-visitor circulation estimates per day. Every published column (hence the
-- wildcard).
select * from marts.all_visitors_flows_daily  -- noqa: AM04
where measure in ('circulation_visitors', 'multi_facility_visitors')
order by service_date, measure
