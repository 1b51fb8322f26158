{{ config(materialized='view') }}

select
    customer_id,
    case
        when forecast_ltv_next_year >= 100 then 'vip'
        when forecast_ltv_next_year >= 30 then 'regular'
        else 'occasional'
    end as segment
from {{ ref('customer_ltv_forecast') }}
