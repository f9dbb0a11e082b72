{{ config(enabled=(var('reconcile_delta') | string | lower) == 'true', severity='warn') }}
-- Bronze in Delta and Bronze in Iceberg hold the same trades. Both sinks commit on the same Flink
-- checkpoints but not at the same instant, so only rows older than the newer of both tables'
-- latest row minus a minute are compared.
with iceberg_rows as (
    select trade_id, kafka_partition, kafka_offset, ingested_at from {{ source('bronze', 'trades') }}
),
delta_rows as (
    select trade_id, kafka_partition, kafka_offset, ingested_at from {{ source('bronze_delta', 'trades') }}
),
cutoff as (
    select least((select max(ingested_at) from iceberg_rows), (select max(ingested_at) from delta_rows))
           - interval '1' minute as at
)

select 'only in iceberg' as problem, i.trade_id, i.kafka_partition, i.kafka_offset
from iceberg_rows as i
where i.ingested_at < (select at from cutoff)
  and not exists (select 1 from delta_rows as d
                  where d.kafka_partition = i.kafka_partition and d.kafka_offset = i.kafka_offset)
union all
select 'only in delta', d.trade_id, d.kafka_partition, d.kafka_offset
from delta_rows as d
where d.ingested_at < (select at from cutoff)
  and not exists (select 1 from iceberg_rows as i
                  where i.kafka_partition = d.kafka_partition and i.kafka_offset = d.kafka_offset)
