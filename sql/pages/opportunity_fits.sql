-- Every fit of the gravity model, latest first. Every published column (hence the wildcard).
select * from marts.opportunity_fit  -- noqa: AM04
order by period_start desc, period_grain, source_kind, segment
