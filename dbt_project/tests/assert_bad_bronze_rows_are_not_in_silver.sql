-- Every bad row of Bronze (by its Kafka coordinates) is absent from Silver: planted rows with a
-- zero price or size, an empty symbol or an event_time in the future must not reach it.
with bad as (
    select kafka_partition, kafka_offset, trade_id
    from {{ source('bronze', 'trades') }}
    where trade_id is null or trim(trade_id) = ''
       or symbol is null or trim(symbol) = ''
       or price is null or price <= 0
       or size is null or size <= 0
       or side is null or side not in ('BUY', 'SELL')
       or event_time is null
       or with_timezone(event_time, 'UTC') > ingested_at + interval '{{ var("max_future_skew_minutes") }}' minute
)

select bad.*
from bad
join {{ ref('trades_clean') }} as silver
  on silver.kafka_partition = bad.kafka_partition
 and silver.kafka_offset = bad.kafka_offset
