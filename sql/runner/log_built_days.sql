-- Record the service days being built (getvariable('first_service_date') ..
-- getvariable('last_service_date')) and return the latest day ever built: a period is
-- complete, and published, once its last day has been built.
create table if not exists intermediate.model_build_days (
    service_date date primary key,
    built_at timestamp
);

delete from intermediate.model_build_days
where service_date between getvariable('first_service_date') and getvariable('last_service_date');

insert into intermediate.model_build_days
select
    cast(unnest(generate_series(
        getvariable('first_service_date'), getvariable('last_service_date'), interval 1 day
    )) as date) as service_date,
    now()::timestamp as built_at;

select max(service_date) as built_through from intermediate.model_build_days;
