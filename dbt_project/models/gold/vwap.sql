{#- Gold: volume-weighted average price per symbol and UTC day (the per-minute VWAP is ohlcv_1m.vwap).

    Sums of the one-minute bars' exact decimals: the same digits as sum(notional) / sum(size) over
    Silver (tests/assert_vwap_matches_silver.sql checks it). -#}
select
    symbol,
    cast(date_trunc('day', minute) as date) as day,
    cast(round(sum(notional) / sum(volume), 6) as decimal(18, 6)) as vwap,
    cast(sum(volume) as bigint) as volume,
    cast(sum(trade_count) as bigint) as trade_count,
    cast(sum(notional) as decimal(38, 6)) as notional,
    min(low) as low,
    max(high) as high,
    min(minute) as first_minute,
    max(minute) as last_minute
from {{ ref('ohlcv_1m') }}
group by symbol, cast(date_trunc('day', minute) as date)
