-- materialized: view
-- One row per cashless admission from every entry_log source, with the visitor segment
-- derived from the card's issuing country.
with source_rows as (
    select * from raw.entry_log
),

final as (
    select
        source,
        service_date,
        facility_id,
        entered_at,
        card_key as visitor_key,
        ticket_type,
        amount_jpy,
        issuer_country,
        case
            when issuer_country is null then 'unknown'
            when issuer_country = 'JP' then 'domestic'
            else 'international'
        end as segment,
        file_name,
        line_number
    from source_rows
)

select * from final
