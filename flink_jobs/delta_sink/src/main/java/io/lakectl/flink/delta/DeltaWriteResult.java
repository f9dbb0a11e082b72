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

/** The files one writer subtask finished for one checkpoint. */
public final class DeltaWriteResult {
    final List<DataFile> files;

    DeltaWriteResult(List<DataFile> files) {
        this.files = Collections.unmodifiableList(new ArrayList<>(files));
    }

    static void writeFiles(DataOutputStream out, List<DataFile> files) throws IOException {
        out.writeInt(files.size());
        for (DataFile f : files) {
            f.write(out);
        }
    }

    static List<DataFile> readFiles(DataInputStream in) throws IOException {
        int n = in.readInt();
        List<DataFile> files = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            files.add(DataFile.read(in));
        }
        return files;
    }

    /** Serializer for the writer to pre-commit channel (and unaligned-checkpoint channel state). */
    public static final class Serializer implements SimpleVersionedSerializer<DeltaWriteResult> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(DeltaWriteResult result) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                writeFiles(out, result.files);
            }
            return bytes.toByteArray();
        }

        @Override
        public DeltaWriteResult deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown DeltaWriteResult version " + version);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                return new DeltaWriteResult(readFiles(in));
            }
        }
    }
}
