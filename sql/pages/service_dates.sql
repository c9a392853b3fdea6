-- Every service date a drawn daily mart has rows for, oldest first (one page per date).
select service_date from marts.facility_daily
union
select service_date from marts.transitions_daily
union
select service_date from marts.routes_daily
union
select service_date from marts.circulation_daily
union
select service_date from marts.wifi_h3_hourly
union
select service_date from marts.survey_satisfaction_daily
order by service_date
