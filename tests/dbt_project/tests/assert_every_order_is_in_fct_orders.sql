{{ config(tags=["finance"]) }}
-- Passes: the incremental model did not lose any order.
select stg_orders.order_id
from {{ ref('stg_orders') }} as stg_orders
left join {{ ref('fct_orders') }} as fct_orders on fct_orders.order_id = stg_orders.order_id
where fct_orders.order_id is null
