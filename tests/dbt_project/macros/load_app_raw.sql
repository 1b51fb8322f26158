{#- Used by the on-run-start hooks (see dbt_project.yml): pretend an EL tool
    just loaded the app database. Load times are relative to now(), so source
    freshness gives the same statuses whenever the artifacts are regenerated. -#}

{% macro load_app_raw_web_events() %}
create or replace table app_raw.web_events as
select
    event_id,
    customer_id,
    event_type,
    cast(timezone('UTC', now()) as timestamp) - to_minutes(minutes_ago) as loaded_at
from (values
    (1, 1, 'page_view', 90),
    (2, 1, 'add_to_cart', 80),
    (3, 2, 'page_view', 60),
    (4, 3, 'checkout', 45),
    (5, 5, 'page_view', 30)
) as t(event_id, customer_id, event_type, minutes_ago)
{% endmacro %}

{% macro load_app_raw_newsletter_signups() %}
create or replace table app_raw.newsletter_signups as
select
    signup_id,
    email,
    -- the newsletter export has been stuck for two days: freshness `warn`
    cast(timezone('UTC', now()) as timestamp) - to_hours(hours_ago) as loaded_at
from (values
    (1, 'ada@example.com', 60),
    (2, 'grace@example.com', 52),
    (3, 'someone@example.com', 49)
) as t(signup_id, email, hours_ago)
{% endmacro %}
