-- The KPI path as the last build left it: the digest of its inputs (ops.kpi_path_inputs) and
-- the rows of its two marts; flowlib.kpi_path keeps them when the inputs are the same.
select
    (select max(input_digest) from ops.kpi_path_inputs) as input_digest,
    (select count(*) from marts.kpi_path_monthly) as monthly_rows,
    (select count(*) from marts.kpi_path_fiscal_year) as fiscal_year_rows
