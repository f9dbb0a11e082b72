package io.lakectl.flink.delta;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSink;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/** Entry point for PyFlink (through py4j): attaches the exactly-once Delta sink to a table. */
public final class DeltaSinks {
    public static final String UID = "delta-sink";

    private DeltaSinks() {}

    /**
     * Converts {@code table} to a {@code DataStream<RowData>} and writes it to the Delta table at
     * {@code tablePath} (s3a://, s3:// or file:). Options: {@code app-id} (required: the Delta
     * SetTransaction id that makes commits idempotent; keep it stable across restores),
     * {@code partition-columns} (comma-separated, optional), {@code timestamp-encoding}
     * ({@code int96}, the default, or {@code int64-micros}), {@code parquet.*} and Hadoop
     * {@code fs.*} settings (e.g. fs.s3a.endpoint, fs.s3a.access.key, fs.s3a.secret.key,
     * fs.s3a.path.style.access), or any Hadoop key prefixed with {@code hadoop.}.
     */
    public static DataStreamSink<RowData> attach(
            StreamTableEnvironment tenv, Table table, String tablePath, Map<String, String> options) {
        DataType physical = table.getResolvedSchema().toPhysicalRowDataType();
        DataStream<RowData> stream = tenv.toDataStream(table, physical.bridgedTo(RowData.class));
        RowType rowType = (RowType) physical.getLogicalType();
        DeltaSink sink = new DeltaSink(tablePath, rowType, new HashMap<>(options));
        return stream.sinkTo(sink).uid(UID).name(UID);
    }
}
