select
    payment_method,
    count(*) as payment_count,
    sum(amount) as revenue
from {{ ref('stg_payments') }}
group by payment_method
