-- For each staged file: how many distinct rows it holds (by content: the columns filled
-- from its name or line numbers aside, $content_columns) and which other files hold every
-- one of them. A file contained in another is a second copy (renamed, re-encoded, a
-- partial upload); flowlib.ingest.resolve_repeats decides which copy is kept.
with content as (
    select distinct
        file_index,
        hash(
            *columns(lambda col_name: list_contains(getvariable('content_columns'), col_name))
        ) as content_hash
    from ingest_rows
),

sizes as (
    select
        file_index,
        count(*) as distinct_rows
    from content
    group by file_index
),

shared as (
    select
        a.file_index as sub_file,
        b.file_index as super_file,
        count(*) as shared_rows
    from content as a
    inner join content as b
        on a.content_hash = b.content_hash and a.file_index <> b.file_index
    group by a.file_index, b.file_index
),

final as (
    select
        sizes.file_index,
        sizes.distinct_rows,
        coalesce(
            list(shared.super_file order by shared.super_file)
            filter (where shared.shared_rows = sizes.distinct_rows),
            []
        ) as contained_in
    from sizes
    left join shared on sizes.file_index = shared.sub_file
    group by sizes.file_index, sizes.distinct_rows
)

select * from final
order by file_index
