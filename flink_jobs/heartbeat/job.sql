-- A Flink SQL job run through the SQL Gateway: `lakectl job submit flink_jobs/heartbeat/job.sql`.
-- One row per second into the Iceberg table bronze.heartbeat: a cheap end-to-end liveness signal
-- for the catalog, the object store and checkpointing. ${...} placeholders come from lakectl's job
-- context; key=value arguments after `--` add or override them (e.g. `-- rows_per_second=10`).

CREATE TEMPORARY TABLE beats (
  beat_id BIGINT,
  note STRING,
  emitted_at AS LOCALTIMESTAMP
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '${rows_per_second:-1}',
  'fields.beat_id.kind' = 'random',
  'fields.beat_id.min' = '1',
  'fields.beat_id.max' = '1000000000',
  'fields.note.length' = '8'
);

CREATE CATALOG lakehouse WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = '${iceberg.jdbc_url}',
  'jdbc.user' = '${iceberg.user}',
  'jdbc.password' = '${iceberg.password}',
  'jdbc.schema-version' = 'V1',
  'warehouse' = '${iceberg.warehouse}',
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = '${iceberg.io.s3.endpoint}',
  's3.access-key-id' = '${iceberg.io.s3.access-key-id}',
  's3.secret-access-key' = '${iceberg.io.s3.secret-access-key}',
  's3.path-style-access' = 'true',
  'client.region' = '${iceberg.io.client.region}'
);

CREATE DATABASE IF NOT EXISTS lakehouse.bronze;

CREATE TABLE IF NOT EXISTS lakehouse.bronze.heartbeat (
  beat_id BIGINT,
  note STRING,
  emitted_at TIMESTAMP(3)
);

INSERT INTO lakehouse.bronze.heartbeat SELECT beat_id, note, emitted_at FROM beats;
