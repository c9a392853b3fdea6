-- The hourly forecast profile. Every published column (hence the wildcard).
select * from marts.forecast_hourly  -- noqa: AM04
