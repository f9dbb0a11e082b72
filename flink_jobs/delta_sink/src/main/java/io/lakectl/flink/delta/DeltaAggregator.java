package io.lakectl.flink.delta;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.CommittableSummary;
import org.apache.flink.streaming.api.connector.sink2.CommittableWithLineage;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Parallelism-1 pre-commit operator: collects the writers' files and, just before it forwards
 * checkpoint N's barrier, emits them as ONE committable for N. Every writer emits its files for N
 * before its barrier N, so all of them have arrived by then; nothing needs to be kept in state.
 */
public class DeltaAggregator extends AbstractStreamOperator<CommittableMessage<DeltaCommittable>>
        implements OneInputStreamOperator<CommittableMessage<DeltaWriteResult>, CommittableMessage<DeltaCommittable>> {
    private static final long serialVersionUID = 1L;

    private transient List<DataFile> pending;
    private transient long lastCheckpointId;
    private transient boolean finished;

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        pending = new ArrayList<>();
        lastCheckpointId = context.getRestoredCheckpointId().orElse(0L);
        finished = false;
    }

    @Override
    public void processElement(StreamRecord<CommittableMessage<DeltaWriteResult>> element) {
        CommittableMessage<DeltaWriteResult> message = element.getValue();
        if (message instanceof CommittableWithLineage) {
            pending.addAll(((CommittableWithLineage<DeltaWriteResult>) message).getCommittable().files);
        }
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        if (finished) {
            return; // the files flushed at end of input went out in finish(), before EndOfData
        }
        lastCheckpointId = checkpointId;
        emit(checkpointId, checkpointId);
    }

    @Override
    public void finish() throws Exception {
        // End of a bounded input: the writers flushed their last files. Like Flink's own sink writer
        // (1.20.2+), tag them with the next checkpoint id: the committer commits them on the final
        // checkpoint (or at once without checkpointing).
        finished = true;
        if (!pending.isEmpty()) {
            emit(lastCheckpointId + 1, lastCheckpointId + 1);
        }
        super.finish();
    }

    private void emit(long checkpointId, long txnVersion) {
        String jobId = getRuntimeContext().getJobInfo().getJobId().toString();
        DeltaCommittable committable = new DeltaCommittable(jobId, txnVersion, pending);
        pending = new ArrayList<>();
        output.collect(new StreamRecord<>(new CommittableSummary<>(0, 1, checkpointId, 1, 1, 0)));
        output.collect(new StreamRecord<>(new CommittableWithLineage<>(committable, checkpointId, 0)));
    }
}
