select {{ function('broken_discount') }}(10.0) as price
