-- The daily forecast. Every published column (hence the wildcard).
select * from marts.forecast_daily  -- noqa: AM04
order by source_kind, facility_id, forecast_date
