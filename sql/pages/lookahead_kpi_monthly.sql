-- The KPI path per month. Every published column (hence the wildcard).
select * from marts.kpi_path_monthly  -- noqa: AM04
order by month, segment, weighting
