select numerator / nullif(denominator, 0) :: numeric
