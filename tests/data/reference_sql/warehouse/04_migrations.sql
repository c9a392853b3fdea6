-- Columns added after the first release: warehouses created earlier gain them here.
alter table raw.survey_response add column if not exists answer_place varchar;
alter table raw.survey_response add column if not exists answer_municipality varchar;
