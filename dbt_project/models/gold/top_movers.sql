{#- Gold: the symbols that moved most, in % from the open of the window's first bar to the close of
    its last one. The window is the last `top_movers_window_minutes` minutes of trading in Silver
    (ending at the latest bar, not at the clock: a rebuild of old data gives the same answer).
    rank 1 = the largest move either way; direction says which. -#}
with bars as (
    select * from {{ ref('ohlcv_1m') }}
),

window_bounds as (
    select
        max(minute) + interval '1' minute - interval '{{ var("top_movers_window_minutes") }}' minute
            as window_start,
        max(minute) + interval '1' minute as window_end
    from bars
),

in_window as (
    select
        bars.*,
        window_bounds.window_start,
        window_bounds.window_end,
        row_number() over (partition by symbol order by minute) as first_bar,
        row_number() over (partition by symbol order by minute desc) as last_bar
    from bars
    cross join window_bounds
    where bars.minute >= window_bounds.window_start
),

per_symbol as (
    select
        symbol,
        min(window_start) as window_start,
        min(window_end) as window_end,
        max(case when first_bar = 1 then open end) as first_price,
        max(case when last_bar = 1 then close end) as last_price,
        sum(volume) as volume,
        sum(trade_count) as trade_count
    from in_window
    group by symbol
),

changes as (
    select
        *,
        cast(round((last_price - first_price) * 100 / first_price, 4) as decimal(18, 4)) as change_pct
    from per_symbol
)

select
    cast(row_number() over (order by abs(change_pct) desc, symbol) as integer) as rank,
    symbol,
    change_pct,
    case when change_pct > 0 then 'up' when change_pct < 0 then 'down' else 'flat' end as direction,
    first_price,
    last_price,
    cast(volume as bigint) as volume,
    cast(trade_count as bigint) as trade_count,
    window_start,
    window_end
from changes
