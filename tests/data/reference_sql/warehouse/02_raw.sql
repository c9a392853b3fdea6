-- Canonical tables, one per source kind. Every row keeps where it came from
-- (source, file_name, line_number) so any figure can be traced to a delivery line.
create table if not exists raw.entry_log (
    source varchar not null,
    service_date date not null,
    facility_id varchar not null,
    entered_at timestamp not null,
    card_key varchar not null,
    ticket_type varchar,
    amount_jpy integer,
    issuer_country varchar,
    file_name varchar not null,
    line_number integer not null
);

create table if not exists raw.wifi_ap_count (
    source varchar not null,
    service_date date not null,
    ap_id varchar not null,
    bin_start timestamp not null,
    bin_minutes integer not null,
    connections integer not null,
    unique_devices integer,
    file_name varchar not null,
    line_number integer not null
);

create table if not exists raw.wifi_sensor (
    source varchar not null,
    service_date date not null,
    facility_id varchar not null,
    detected_at timestamp not null,
    device_key varchar not null,
    file_name varchar not null,
    line_number integer not null
);

create table if not exists raw.survey_response (
    source varchar not null,
    service_date date not null,
    response_key varchar not null,
    answered_at timestamp not null,
    form_language varchar,
    residence_country varchar,
    residence_prefecture varchar,
    info_satisfaction smallint,
    overall_satisfaction smallint,
    recommend_score smallint,
    info_sources varchar[],
    facilities_visited varchar[],
    weight double,
    free_text varchar,
    answer_place varchar,
    answer_municipality varchar,
    file_name varchar not null,
    line_number integer not null
);
