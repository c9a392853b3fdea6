-- The KPI path per fiscal year. Every published column (hence the wildcard).
select * from marts.kpi_path_fiscal_year  -- noqa: AM04
order by fiscal_year, segment
