{{
    config(
        materialized='incremental',
        unique_key='order_id',
        on_schema_change='fail',
    )
}}

with orders as (
    select * from {{ ref('stg_orders') }}
    {% if is_incremental() %}
    where ordered_at > (select max(ordered_at) from {{ this }})
    {% endif %}
),

payments as (
    select
        order_id,
        count(*) as payment_count,
        sum(amount) as amount
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.ordered_at,
    orders.status,
    coalesce(payments.payment_count, 0) as payment_count,
    coalesce(payments.amount, 0) as amount
from orders
left join payments on payments.order_id = orders.order_id
