package io.lakectl.flink.delta;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * All files of one checkpoint, to become one Delta commit. The commit records
 * {@code SetTransaction(appId + "-" + jobId, txnVersion)}; {@code txnVersion} is the checkpoint id,
 * or for the files flushed at end of input, the last checkpoint id seen plus one. The Flink job id
 * is part of the key because checkpoint ids restart from the restored checkpoint's when a job is
 * resubmitted from it: a committable restored from an older job is checked against that job's
 * versions, the new job's checkpoints against its own.
 */
public final class DeltaCommittable {
    final String jobId;
    final long txnVersion;
    final List<DataFile> files;

    DeltaCommittable(String jobId, long txnVersion, List<DataFile> files) {
        this.jobId = jobId;
        this.txnVersion = txnVersion;
        this.files = Collections.unmodifiableList(new ArrayList<>(files));
    }

    String txnAppId(String appId) {
        return appId + "-" + jobId;
    }

    @Override
    public String toString() {
        return "DeltaCommittable{job=" + jobId + ", txnVersion=" + txnVersion + ", files=" + files.size() + "}";
    }

    /** Serializer for the committer's state (checkpointed until the commit succeeds). */
    public static final class Serializer implements SimpleVersionedSerializer<DeltaCommittable> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(DeltaCommittable committable) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeUTF(committable.jobId);
                out.writeLong(committable.txnVersion);
                DeltaWriteResult.writeFiles(out, committable.files);
            }
            return bytes.toByteArray();
        }

        @Override
        public DeltaCommittable deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown DeltaCommittable version " + version);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                String jobId = in.readUTF();
                long txnVersion = in.readLong();
                return new DeltaCommittable(jobId, txnVersion, DeltaWriteResult.readFiles(in));
            }
        }
    }
}
