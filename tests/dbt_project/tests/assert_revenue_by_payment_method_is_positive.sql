{{ config(tags=["finance"]) }}
-- Fails on purpose (status `fail`): store credit refunds exceed store credit sales.
select *
from {{ ref('revenue_by_payment_method') }}
where revenue < 0
