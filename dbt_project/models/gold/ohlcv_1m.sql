{#- Gold: one-minute OHLCV bars per symbol, from Silver.

    open/close are the first/last trade of the minute by event_time (ties: ingestion order, then
    trade_id), so a rebuild gives the same bars. VWAP and notional are exact decimal sums. -#}
with trades as (
    select
        symbol,
        date_trunc('minute', event_time) as minute,
        price,
        size,
        notional,
        row_number() over (
            partition by symbol, date_trunc('minute', event_time)
            order by event_time, ingested_at, trade_id
        ) as first_in_bar,
        row_number() over (
            partition by symbol, date_trunc('minute', event_time)
            order by event_time desc, ingested_at desc, trade_id desc
        ) as last_in_bar
    from {{ ref('trades_clean') }}
)

select
    symbol,
    minute,
    max(case when first_in_bar = 1 then price end) as open,
    max(price) as high,
    min(price) as low,
    max(case when last_in_bar = 1 then price end) as close,
    cast(sum(size) as bigint) as volume,
    cast(count(*) as bigint) as trade_count,
    cast(sum(notional) as decimal(38, 6)) as notional,
    cast(round(sum(notional) / sum(size), 6) as decimal(18, 6)) as vwap
from trades
group by symbol, minute
