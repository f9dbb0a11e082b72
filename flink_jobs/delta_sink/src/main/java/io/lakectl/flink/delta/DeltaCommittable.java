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
 * All files of one checkpoint, to become one Delta commit. {@code txnVersion} is the version
 * recorded with {@code SetTransaction(appId, txnVersion)}: the checkpoint id, or for the files
 * flushed at end of input, the last checkpoint id seen plus one.
 */
public final class DeltaCommittable {
    final long txnVersion;
    final List<DataFile> files;

    DeltaCommittable(long txnVersion, List<DataFile> files) {
        this.txnVersion = txnVersion;
        this.files = Collections.unmodifiableList(new ArrayList<>(files));
    }

    @Override
    public String toString() {
        return "DeltaCommittable{txnVersion=" + txnVersion + ", files=" + files.size() + "}";
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
                long txnVersion = in.readLong();
                return new DeltaCommittable(txnVersion, DeltaWriteResult.readFiles(in));
            }
        }
    }
}
