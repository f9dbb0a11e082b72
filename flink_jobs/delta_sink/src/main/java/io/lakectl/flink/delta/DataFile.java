package io.lakectl.flink.delta;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** One finished Parquet file: what a Delta AddFile needs. */
public final class DataFile implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Relative to the table root, URI-encoded as the Delta log wants it. */
    final String path;
    /** Partition column to value (null for a null value). */
    final Map<String, String> partitionValues;
    final long size;
    final long modificationTime;
    final long numRecords;
    /** Delta stats JSON (numRecords, minValues, maxValues, nullCount). */
    final String stats;

    DataFile(String path, Map<String, String> partitionValues, long size, long modificationTime, long numRecords, String stats) {
        this.path = path;
        this.partitionValues = Collections.unmodifiableMap(new LinkedHashMap<>(partitionValues));
        this.size = size;
        this.modificationTime = modificationTime;
        this.numRecords = numRecords;
        this.stats = stats;
    }

    void write(DataOutputStream out) throws IOException {
        out.writeUTF(path);
        out.writeInt(partitionValues.size());
        for (Map.Entry<String, String> e : partitionValues.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeBoolean(e.getValue() != null);
            if (e.getValue() != null) {
                out.writeUTF(e.getValue());
            }
        }
        out.writeLong(size);
        out.writeLong(modificationTime);
        out.writeLong(numRecords);
        byte[] json = stats.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(json.length);
        out.write(json);
    }

    static DataFile read(DataInputStream in) throws IOException {
        String path = in.readUTF();
        int n = in.readInt();
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            String key = in.readUTF();
            values.put(key, in.readBoolean() ? in.readUTF() : null);
        }
        long size = in.readLong();
        long mtime = in.readLong();
        long records = in.readLong();
        byte[] json = new byte[in.readInt()];
        in.readFully(json);
        return new DataFile(path, values, size, mtime, records, new String(json, java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return path + " (" + numRecords + " rows, " + size + " B)";
    }
}
