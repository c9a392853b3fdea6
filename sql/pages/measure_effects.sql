-- Every measure's estimated effect. Every published column (hence the wildcard).
select * from marts.measure_effects  -- noqa: AM04
order by measure
