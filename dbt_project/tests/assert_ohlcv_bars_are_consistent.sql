-- A bar's open, close and VWAP lie between its low and its high; volume and trade_count are
-- positive; the bars' volume, trade count and notional add up to Silver's.
select symbol, minute, 'open/close/vwap outside [low, high] or empty bar' as problem
from {{ ref('ohlcv_1m') }}
where not (low <= open and open <= high and low <= close and close <= high
           and low <= vwap and vwap <= high and volume > 0 and trade_count > 0)
union all
select null, null, 'bar totals differ from Silver'
from (select sum(volume) as v, sum(trade_count) as n, sum(notional) as x from {{ ref('ohlcv_1m') }}) as bars
cross join (select sum(size) as v, count(*) as n, sum(notional) as x from {{ ref('trades_clean') }}) as silver
where bars.v <> silver.v or bars.n <> silver.n or bars.x <> silver.x
