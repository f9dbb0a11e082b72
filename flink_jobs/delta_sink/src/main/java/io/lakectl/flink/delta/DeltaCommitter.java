package io.lakectl.flink.delta;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import io.delta.standalone.CommitResult;
import io.delta.standalone.DeltaLog;
import io.delta.standalone.Operation;
import io.delta.standalone.OptimisticTransaction;
import io.delta.standalone.actions.Action;
import io.delta.standalone.actions.AddFile;
import io.delta.standalone.actions.Metadata;
import io.delta.standalone.actions.SetTransaction;
import io.delta.standalone.types.StructType;
import org.apache.flink.api.connector.sink2.Committer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Delta commit per call: the AddFiles of every committable not yet in the table plus
 * {@code SetTransaction(appId-jobId, max txnVersion)}. A committable whose txnVersion the table
 * already records for its key (a retry, or a restore from a checkpoint taken before the commit
 * reached the table) is skipped.
 */
class DeltaCommitter implements Committer<DeltaCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(DeltaCommitter.class);
    static final String ENGINE = "lakectl-flink-delta/0.1.0";

    private final DeltaSink sink;
    private transient DeltaLog log;

    DeltaCommitter(DeltaSink sink) {
        this.sink = sink;
    }

    private DeltaLog log() {
        if (log == null) {
            log = DeltaLog.forTable(sink.hadoopConf(), sink.tablePath());
        }
        return log;
    }

    @Override
    public void commit(Collection<CommitRequest<DeltaCommittable>> requests) throws IOException {
        if (requests.isEmpty()) {
            return;
        }
        DeltaLog deltaLog = log();
        deltaLog.update();
        OptimisticTransaction txn = deltaLog.startTransaction();
        List<Action> actions = new ArrayList<>();
        Map<String, Long> committed = new TreeMap<>(); // txn app id -> version the table holds
        Map<String, Long> versions = new TreeMap<>(); // txn app id -> version this commit records
        int files = 0;
        long rows = 0;
        for (CommitRequest<DeltaCommittable> request : requests) {
            DeltaCommittable c = request.getCommittable();
            String txnAppId = c.txnAppId(sink.appId());
            long done = committed.computeIfAbsent(txnAppId, txn::txnVersion);
            if (c.files.isEmpty()) {
                continue;
            }
            if (c.txnVersion <= done) {
                LOG.info("delta sink: {} already holds {} version {} (table has {}): skipped",
                        sink.tablePath(), txnAppId, c.txnVersion, done);
                request.signalAlreadyCommitted();
                continue;
            }
            versions.merge(txnAppId, c.txnVersion, Math::max);
            for (DataFile f : c.files) {
                // Delta Standalone writes AddFile.stats with @JsonRawValue: hand it the JSON string literal
                actions.add(new AddFile(f.path, f.partitionValues, f.size, f.modificationTime, true, FileStats.quote(f.stats), null));
                files++;
                rows += f.numRecords;
            }
        }
        if (actions.isEmpty()) {
            return;
        }
        StructType schema = DeltaSchemas.toDelta(sink.rowType());
        if (!deltaLog.tableExists()) {
            Map<String, String> config = new HashMap<>();
            config.put("delta.appendOnly", "true");
            txn.updateMetadata(Metadata.builder()
                    .schema(schema)
                    .partitionColumns(sink.partitionColumns())
                    .configuration(config)
                    .createdTime(System.currentTimeMillis())
                    .build());
        } else {
            Metadata current = txn.metadata();
            StructType evolved = DeltaSchemas.merged(current.getSchema(), schema);
            if (evolved == null || !current.getPartitionColumns().equals(sink.partitionColumns())) {
                throw new IOException("delta sink: table " + sink.tablePath() + " has schema " + current.getSchema().getTreeString()
                        + " partitioned by " + current.getPartitionColumns() + "; the job writes " + schema.getTreeString()
                        + " partitioned by " + sink.partitionColumns());
            }
            if (!DeltaSchemas.sameColumns(current.getSchema(), evolved)) {
                // new nullable columns join the table in the same commit as the first files holding them
                txn.updateMetadata(current.copyBuilder().schema(evolved).build());
                LOG.info("delta sink: {} evolves to {}", sink.tablePath(), evolved.getTreeString());
            }
        }
        long now = System.currentTimeMillis();
        for (Map.Entry<String, Long> v : versions.entrySet()) {
            actions.add(new SetTransaction(v.getKey(), v.getValue(), Optional.of(now)));
        }
        Map<String, String> params = new HashMap<>();
        params.put("outputMode", "\"Append\"");
        params.put("queryId", FileStats.quote(sink.appId()));
        params.put("epochId", "\"" + versions.values().stream().max(Long::compare).orElse(-1L) + "\"");
        Map<String, String> metrics = new HashMap<>();
        metrics.put("numAddedFiles", Long.toString(files));
        metrics.put("numOutputRows", Long.toString(rows));
        CommitResult result = txn.commit(actions, new Operation(Operation.Name.STREAMING_UPDATE, params, metrics), ENGINE);
        LOG.info("delta sink: committed {} files ({} rows) to {} as table version {} ({})",
                files, rows, sink.tablePath(), result.getVersion(), versions);
    }

    @Override
    public void close() {
        log = null;
    }
}
