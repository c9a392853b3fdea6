-- The forecast's rolling-origin backtest. Every published column (hence the wildcard).
select * from marts.forecast_backtest  -- noqa: AM04
order by source_kind, facility_id
