-- One measure's treated and comparison series. Every published column (hence the wildcard).
-- Variable: measure.
select * from marts.measure_series  -- noqa: AM04
where measure = getvariable('measure')
order by service_date
