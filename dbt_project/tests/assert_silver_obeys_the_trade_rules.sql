-- No row in Silver breaks a rule of a trade (spelled out here again, not through the model's macro).
select trade_id, symbol, price, size, side, event_time, ingested_at
from {{ ref('trades_clean') }}
where trade_id is null or trim(trade_id) = ''
   or symbol is null or trim(symbol) = ''
   or price is null or price <= 0
   or size is null or size <= 0
   or side is null or side not in ('BUY', 'SELL')
   or event_time is null
   or event_time > ingested_at + interval '{{ var("max_future_skew_minutes") }}' minute
   or notional <> price * size
