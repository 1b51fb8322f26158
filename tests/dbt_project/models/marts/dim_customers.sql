with customers as (
    select * from {{ ref('stg_customers') }}
),

order_totals as (
    select
        customer_id,
        count(*) as number_of_orders,
        sum(amount) as lifetime_value,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at
    from {{ ref('fct_orders') }}
    group by customer_id
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    customers.email,
    coalesce(order_totals.number_of_orders, 0) as number_of_orders,
    coalesce(order_totals.lifetime_value, 0) as lifetime_value,
    order_totals.first_ordered_at,
    order_totals.last_ordered_at
from customers
left join order_totals on order_totals.customer_id = customers.customer_id
