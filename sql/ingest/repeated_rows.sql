-- Rows delivered more than once in one source-day, over every staged file but the copies
-- ($copy_files): exact repeats of an earlier row (all columns, $row_columns), then among
-- the rest, rows sharing an identity ($identity_columns, kinds.IDENTITY_BY_KIND) with
-- other values. One row per problem row, with the row it repeats (the first) or its
-- group's last row and first members; flowlib.ingest words the reason and applies the
-- declared rule (duplicates: quarantine/collapse, conflicts: reject_conflict/keep_last).
with hashed as (
    select
        file_index,
        line_number,
        hash(
            *columns(lambda col_name: list_contains(getvariable('row_columns'), col_name))
        ) as row_hash,
        hash(
            *columns(lambda col_name: list_contains(getvariable('identity_columns'), col_name))
        ) as identity_hash
    from ingest_rows
    where not list_contains(getvariable('copy_files'), file_index)
),

-- Only rows whose content or identity occurs more than once can be a repeat or a conflict:
-- the windows below rank those few, not the whole delivery (a clean day has none). Every
-- row sharing a row hash shares the identity hash too (the identity columns are some of
-- the row's), so a candidate's whole partition is among the candidates.
repeated_rows as (
    select row_hash from hashed
    group by row_hash
    having count(*) > 1
),

shared_identities as (
    select identity_hash from hashed
    group by identity_hash
    having count(*) > 1
),

candidates as (
    select
        file_index,
        line_number,
        row_hash,
        identity_hash
    from hashed
    where
        row_hash in (select repeated_rows.row_hash from repeated_rows)
        or identity_hash in (select shared_identities.identity_hash from shared_identities)
),

ranked as (
    select
        file_index,
        line_number,
        identity_hash,
        row_number() over by_row as repeat_rank,
        first_value(file_index) over by_row as first_file,
        first_value(line_number) over by_row as first_line
    from candidates
    window by_row as (partition by row_hash order by file_index, line_number)
),

repeats as (
    select
        file_index,
        line_number,
        'repeat' as problem,
        first_file as other_file,
        first_line as other_line,
        null::struct(file_index integer, line_number integer)[] as members
    from ranked
    where repeat_rank > 1
),

numbered as (
    select
        file_index,
        line_number,
        identity_hash,
        count(*) over (partition by identity_hash) as group_rows,
        row_number() over (
            partition by identity_hash order by file_index, line_number
        ) as group_rank
    from ranked
    where repeat_rank = 1
),

groups as (
    select
        identity_hash,
        max_by(file_index, group_rank) as last_file,
        max_by(line_number, group_rank) as last_line,
        list(
            { 'file_index': file_index, 'line_number': line_number } order by group_rank
        ) filter (where group_rank <= 40) as members
    from numbered
    where group_rows > 1
    group by identity_hash
),

conflicts as (
    select
        numbered.file_index,
        numbered.line_number,
        'conflict' as problem,
        groups.last_file as other_file,
        groups.last_line as other_line,
        groups.members
    from numbered
    inner join groups on numbered.identity_hash = groups.identity_hash
),

final as (
    select * from repeats
    union all
    select * from conflicts
)

select * from final
order by file_index, line_number
