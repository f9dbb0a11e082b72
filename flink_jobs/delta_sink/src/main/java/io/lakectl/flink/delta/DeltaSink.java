package io.lakectl.flink.delta;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessageTypeInfo;
import org.apache.flink.streaming.api.connector.sink2.SupportsPreCommitTopology;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;
import org.apache.hadoop.conf.Configuration;

/**
 * Exactly-once Delta sink (Sink V2). Writers (any parallelism) write Parquet files and hand them
 * over on each checkpoint; a parallelism-1 pre-commit operator folds them into one committable per
 * checkpoint; the committer (parallelism 1 as well) turns it into ONE Delta commit holding the
 * AddFiles and {@code SetTransaction(appId, checkpointId)}, and skips committables whose version
 * the table already records (a re-commit after a restore).
 */
public class DeltaSink
        implements Sink<RowData>,
                SupportsCommitter<DeltaCommittable>,
                SupportsPreCommitTopology<DeltaWriteResult, DeltaCommittable> {
    private static final long serialVersionUID = 1L;

    static final String APP_ID = "app-id";
    static final String PARTITION_COLUMNS = "partition-columns";
    static final String TIMESTAMP_ENCODING = "timestamp-encoding";

    private final String tablePath;
    private final RowType rowType;
    private final HashMap<String, String> options;
    private final String appId;
    private final List<String> partitionColumns;

    public DeltaSink(String tablePath, RowType rowType, Map<String, String> options) {
        this.tablePath = hadoopPath(tablePath);
        this.rowType = rowType;
        this.options = new HashMap<>(options);
        this.appId = options.get(APP_ID);
        if (appId == null || appId.isBlank()) {
            throw new IllegalArgumentException("delta sink: option '" + APP_ID + "' is required");
        }
        String parts = options.getOrDefault(PARTITION_COLUMNS, "");
        List<String> cols = new ArrayList<>();
        for (String c : parts.split(",")) {
            if (!c.isBlank()) {
                cols.add(c.trim());
            }
        }
        this.partitionColumns = Collections.unmodifiableList(cols);
        DeltaSchemas.validate(rowType, partitionColumns);
    }

    /** Delta readers say s3://; Hadoop's S3 connector is s3a://. */
    static String hadoopPath(String path) {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        return p.startsWith("s3://") ? "s3a://" + p.substring("s3://".length()) : p;
    }

    Configuration hadoopConf() {
        Configuration conf = new Configuration();
        // commits with conditional PUTs: `lakectl maintain` writes the same log while the job runs
        conf.set("delta.logStore.s3a.impl", ConditionalPutLogStore.class.getName());
        conf.set("delta.logStore.s3.impl", ConditionalPutLogStore.class.getName());
        conf.set("fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem");
        conf.set("parquet.compression", "SNAPPY");
        conf.setLong("parquet.block.size", 64L << 20);
        String ts = options.getOrDefault(TIMESTAMP_ENCODING, "int96").toLowerCase(Locale.ROOT);
        switch (ts) {
            case "int96":
                conf.setBoolean("parquet.write.int64.timestamp", false);
                break;
            case "int64-micros":
                conf.setBoolean("parquet.write.int64.timestamp", true);
                conf.set("parquet.timestamp.time.unit", "micros");
                break;
            default:
                throw new IllegalArgumentException("delta sink: " + TIMESTAMP_ENCODING + " must be int96 or int64-micros");
        }
        for (Map.Entry<String, String> e : options.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("fs.") || k.startsWith("parquet.") || k.startsWith("delta.")) {
                conf.set(k, e.getValue());
            } else if (k.startsWith("hadoop.")) {
                conf.set(k.substring("hadoop.".length()), e.getValue());
            }
        }
        return conf;
    }

    String tablePath() {
        return tablePath;
    }

    RowType rowType() {
        return rowType;
    }

    String appId() {
        return appId;
    }

    List<String> partitionColumns() {
        return partitionColumns;
    }

    @Override
    @SuppressWarnings("deprecation")
    public CommittingSinkWriter<RowData, DeltaWriteResult> createWriter(InitContext context) throws IOException {
        return new DeltaWriter(this, context.getSubtaskId());
    }

    @Override
    public CommittingSinkWriter<RowData, DeltaWriteResult> createWriter(WriterInitContext context) throws IOException {
        return new DeltaWriter(this, context.getSubtaskId());
    }

    @Override
    public Committer<DeltaCommittable> createCommitter(CommitterInitContext context) {
        return new DeltaCommitter(this);
    }

    @Override
    public SimpleVersionedSerializer<DeltaCommittable> getCommittableSerializer() {
        return new DeltaCommittable.Serializer();
    }

    @Override
    public DataStream<CommittableMessage<DeltaCommittable>> addPreCommitTopology(
            DataStream<CommittableMessage<DeltaWriteResult>> results) {
        return results.global()
                .transform(
                        "delta-sink-aggregator",
                        CommittableMessageTypeInfo.of(DeltaCommittable.Serializer::new),
                        new DeltaAggregator())
                .uid("delta-sink-aggregator")
                .setParallelism(1)
                .setMaxParallelism(1)
                // the committer gets the sink's parallelism: send everything to its subtask 0
                .global();
    }

    @Override
    public SimpleVersionedSerializer<DeltaWriteResult> getWriteResultSerializer() {
        return new DeltaWriteResult.Serializer();
    }

    @Override
    public String toString() {
        return "DeltaSink{" + tablePath + ", appId=" + appId + ", partitionColumns=" + Arrays.toString(partitionColumns.toArray()) + "}";
    }
}
