{#- Why a Bronze row is not a trade Silver keeps; null when it is a good one.

    Used by silver.trades_clean (which keeps rows whose reason is null). The tests in tests/ spell
    the rules out again independently, so a mistake here does not pass them. -#}
{% macro bad_trade_reason(alias='') -%}
    {%- set c = (alias ~ '.') if alias else '' -%}
    case
        when {{ c }}trade_id is null or trim({{ c }}trade_id) = '' then 'missing trade_id'
        when {{ c }}symbol is null or trim({{ c }}symbol) = '' then 'missing symbol'
        when {{ c }}price is null or {{ c }}price <= 0 then 'non-positive price'
        when {{ c }}size is null or {{ c }}size <= 0 then 'non-positive size'
        when {{ c }}side is null or {{ c }}side not in ('BUY', 'SELL') then 'unknown side'
        when {{ c }}event_time is null then 'missing event_time'
        when with_timezone({{ c }}event_time, 'UTC')
             > {{ c }}ingested_at + interval '{{ var("max_future_skew_minutes") }}' minute
            then 'event_time in the future'
    end
{%- endmacro %}
