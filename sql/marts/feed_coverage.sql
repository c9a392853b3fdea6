-- materialized: daily
-- Which facilities and areas a service day's figures cover completely. Every daily feed the
-- runs checked for the day (ops.feed_status) gives one row per facility (entry logs, Wi-Fi
-- sensors) or tourism area (Wi-Fi access-point counts) it delivered over the previous four
-- weeks, and a city-wide row for surveys or a feed with no history yet (what it covers is
-- then unknown). is_complete is false when the feed is late, pending, rejected or failed:
-- the pages mark those facilities and areas instead of showing silently low numbers.
with feeds as (
    select source, service_date, source_kind, status, reason
    from ops.feed_status
    where service_date = getvariable('service_date')
),

covered_facilities as (
    select distinct source, 'facility' as scope, facility_id as scope_id
    from raw.entry_log
    where service_date between getvariable('service_date') - 28 and getvariable('service_date')
    union
    select distinct source, 'facility' as scope, facility_id as scope_id
    from raw.wifi_sensor
    where service_date between getvariable('service_date') - 28 and getvariable('service_date')
),

covered_areas as (
    select distinct counts.source, 'area' as scope, access_points.area_id as scope_id
    from raw.wifi_ap_count as counts
    inner join ref.wifi_access_points as access_points using (ap_id)
    where counts.service_date between getvariable('service_date') - 28 and getvariable('service_date')
        and access_points.area_id is not null
),

covered as (
    select * from covered_facilities
    union all
    select * from covered_areas
),

scoped as (
    select feeds.*, covered.scope, covered.scope_id
    from feeds
    inner join covered using (source)
    where feeds.source_kind <> 'survey'
    union all
    select feeds.*, 'city' as scope, 'all' as scope_id
    from feeds
    where feeds.source_kind = 'survey'
        or not exists (
            select 1 from covered
            where covered.source = feeds.source
        )
),

final as (
    select
        service_date,
        source,
        source_kind,
        scope,
        scope_id,
        status,
        reason,
        status = 'loaded' as is_complete
    from scoped
)

select * from final
