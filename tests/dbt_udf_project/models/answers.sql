select {{ function('double_it') }}(21) as answer, {{ function('safe_ratio') }}(1, 0) as ratio
