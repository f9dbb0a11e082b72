-- Deduplication keeps the first good row ingested per trade_id: no good Bronze row of the same
-- trade_id arrived before the one Silver holds. (Checked on the rows Silver was built from.)
with good as (
    select trade_id, ingested_at, kafka_partition, kafka_offset
    from {{ source('bronze', 'trades') }}
    where trim(coalesce(trade_id, '')) <> '' and trim(coalesce(symbol, '')) <> ''
      and price > 0 and size > 0 and side in ('BUY', 'SELL') and event_time is not null
      and with_timezone(event_time, 'UTC') <= ingested_at + interval '{{ var("max_future_skew_minutes") }}' minute
)

select silver.trade_id, silver.kafka_partition, silver.kafka_offset,
       earlier.kafka_partition as earlier_partition, earlier.kafka_offset as earlier_offset
from {{ ref('trades_clean') }} as silver
join good as earlier
  on earlier.trade_id = silver.trade_id
 and (earlier.ingested_at < silver.ingested_at
      or (earlier.ingested_at = silver.ingested_at
          and (earlier.kafka_partition < silver.kafka_partition
               or (earlier.kafka_partition = silver.kafka_partition
                   and earlier.kafka_offset < silver.kafka_offset))))
