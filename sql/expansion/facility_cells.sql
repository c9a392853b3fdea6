-- Per facility-day of the built days: card-tap visitors (null when suppressed) beside the
-- admissions the facility reported, the two sides of the all-visitor expansion share.
with cards as (
    select
        service_date,
        facility_id,
        visitors,
        is_suppressed
    from marts.facility_daily
    where source_kind = 'entry_log'
),

reported as (
    select
        service_date,
        facility_id,
        sum(admissions) as reported_admissions
    from raw.admission_count
    group by all
),

final as (
    select
        coalesce(c.service_date, r.service_date) as service_date,
        coalesce(c.facility_id, r.facility_id) as facility_id,
        case when c.is_suppressed then null else coalesce(c.visitors, 0) end as cashless_visitors,
        coalesce(c.is_suppressed, false) as is_suppressed,
        r.reported_admissions
    from cards as c
    full join reported as r using (service_date, facility_id)
    where coalesce(c.service_date, r.service_date) in (select distinct service_date from marts.facility_daily)
)

select * from final
order by service_date, facility_id
