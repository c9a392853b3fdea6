-- The indicator's drivers per fiscal year, latest first. Every published column (hence the
-- wildcard).
select * from marts.info_satisfaction_drivers  -- noqa: AM04
where period_type = 'fiscal_year'
order by period_start desc, segment, driver_type, share desc
