-- Fails at runtime on purpose: dim_customers has no `predicted_growth_rate`
-- column (the data science team never shipped it). Its children are skipped.
select
    customer_id,
    lifetime_value,
    lifetime_value * (1 + predicted_growth_rate) as forecast_ltv_next_year
from {{ ref('dim_customers') }}
