-- Fails on purpose: the column does not exist, so the function errors and its model is skipped.
select price * (1 - discount_rate_that_does_not_exist)
