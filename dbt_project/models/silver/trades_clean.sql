{#- Silver: Bronze typed, filtered and deduplicated.

    One row per trade_id: the first one ingested (ties: Kafka partition, then offset). Rows that are
    not trades (see macros/trade_rules.sql) are left out. Incremental: each run reads only the Bronze
    rows ingested since the latest one Silver holds (minus a lookback, because Flink commits a
    checkpoint's rows together) and appends the trade_ids Silver does not hold yet, so a duplicate
    that arrives a day later is still dropped. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    properties={
        'format': "'PARQUET'",
        'partitioning': "ARRAY['day(event_time)']",
    },
) }}

{%- set bronze = source('bronze', 'trades') -%}
{%- set bronze_columns = adapter.get_columns_in_relation(bronze) | map(attribute='name') | map('lower') | list -%}

with bronze as (
    select
        trade_id,
        symbol,
        price,
        size,
        side,
        exchange,
        event_time,
        {% if 'conditions' in bronze_columns -%}
        conditions,
        {%- else -%}
        cast(null as varchar) as conditions,
        {%- endif %}
        ingested_at,
        kafka_partition,
        kafka_offset
    from {{ bronze }}
    {{ since_silver() }}
),

checked as (
    select *, {{ bad_trade_reason() }} as rejected_because
    from bronze
),

ranked as (
    select
        *,
        row_number() over (
            partition by trade_id
            order by ingested_at, kafka_partition, kafka_offset
        ) as arrival
    from checked
    where rejected_because is null
)

select
    cast(trade_id as varchar) as trade_id,
    cast(upper(trim(symbol)) as varchar) as symbol,
    cast(price as decimal(18, 6)) as price,
    cast(size as bigint) as size,
    cast(price * size as decimal(38, 6)) as notional,
    cast(side as varchar) as side,
    cast(exchange as varchar) as exchange,
    cast(with_timezone(event_time, 'UTC') as timestamp(6) with time zone) as event_time,
    cast(conditions as varchar) as conditions,
    cast(ingested_at as timestamp(6) with time zone) as ingested_at,
    cast(kafka_partition as integer) as kafka_partition,
    cast(kafka_offset as bigint) as kafka_offset
from ranked
where arrival = 1
{% if is_incremental() -%}
  and not exists (select 1 from {{ this }} as held where held.trade_id = ranked.trade_id)
{%- endif %}
