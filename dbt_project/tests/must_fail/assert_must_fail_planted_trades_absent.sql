{{ config(enabled=(var('must_fail') | string | lower) == 'true') }}
-- Fails on purpose once a trade was planted with trade_id prefix 'must-fail-' (enabled by the var
-- must_fail): the e2e test uses it to prove that a failing test fails `lakectl dbt test` (exit 1).
select trade_id, symbol, price, size
from {{ source('bronze', 'trades') }}
where trade_id like 'must-fail-%'
