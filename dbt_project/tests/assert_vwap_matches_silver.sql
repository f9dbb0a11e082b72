-- A symbol's daily VWAP equals sum(notional) / sum(size) of its Silver trades that day, to the last
-- digit, and every (symbol, day) of Silver has its row in gold.vwap.
with silver_day as (
    select symbol, cast(date_trunc('day', event_time) as date) as day,
           cast(round(sum(notional) / sum(size), 6) as decimal(18, 6)) as vwap
    from {{ ref('trades_clean') }}
    group by symbol, cast(date_trunc('day', event_time) as date)
)

select coalesce(g.symbol, s.symbol) as symbol, coalesce(g.day, s.day) as day, g.vwap, s.vwap as silver_vwap
from {{ ref('vwap') }} as g
full outer join silver_day as s
  on s.symbol = g.symbol and s.day = g.day
where g.vwap is null or s.vwap is null or s.vwap <> g.vwap
