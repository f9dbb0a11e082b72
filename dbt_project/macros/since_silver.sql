{#- The Bronze rows an incremental Silver run reads: those ingested since the newest one Silver holds, minus
    a lookback (Flink commits a checkpoint's rows together, so a row can become visible after a
    later-ingested one). Nothing on a full build. -#}
{% macro since_silver() -%}
    {% if is_incremental() -%}
    where ingested_at > (
        select coalesce(max(ingested_at), timestamp '1970-01-01 00:00:00 UTC')
               - interval '{{ var("silver_lookback_minutes") }}' minute
        from {{ this }}
    )
    {%- endif %}
{%- endmacro %}
