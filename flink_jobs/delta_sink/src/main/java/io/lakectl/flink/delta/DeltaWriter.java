package io.lakectl.flink.delta;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.formats.parquet.ParquetWriterFactory;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.utils.ProjectedRowData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes rows into one open Parquet file per partition through Hadoop's FileSystem (s3a, file);
 * on each checkpoint (and at end of input) closes them and hands them on. Partition columns are
 * left out of the files, as Delta wants. Files of a failed attempt are never committed: they stay
 * as orphans for VACUUM.
 */
class DeltaWriter implements CommittingSinkWriter<RowData, DeltaWriteResult> {
    private static final Logger LOG = LoggerFactory.getLogger(DeltaWriter.class);

    private final Path root;
    private final FileSystem fs;
    private final RowType rowType;
    private final int subtask;
    private final int[] dataColumns;
    private final int[] partitionColumns;
    private final RowData.FieldGetter[] partitionGetters;
    private final ProjectedRowData projection;
    private final ParquetWriterFactory<RowData> factory;
    private final Map<String, OpenFile> open = new LinkedHashMap<>();
    private final List<DataFile> finished = new ArrayList<>();
    private OpenFile last; // the file the previous row went to, and its partition values
    private final Object[] lastPartition;

    DeltaWriter(DeltaSink sink, int subtask) throws IOException {
        Configuration conf = sink.hadoopConf();
        this.root = new Path(sink.tablePath());
        this.fs = root.getFileSystem(conf);
        this.rowType = sink.rowType();
        this.subtask = subtask;
        List<String> names = rowType.getFieldNames();
        List<String> parts = sink.partitionColumns();
        this.partitionColumns = parts.stream().mapToInt(names::indexOf).toArray();
        List<Integer> data = new ArrayList<>();
        List<RowType.RowField> dataFields = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (!parts.contains(names.get(i))) {
                data.add(i);
                dataFields.add(rowType.getFields().get(i));
            }
        }
        this.dataColumns = data.stream().mapToInt(Integer::intValue).toArray();
        this.partitionGetters = new RowData.FieldGetter[partitionColumns.length];
        this.lastPartition = new Object[partitionColumns.length];
        for (int i = 0; i < partitionColumns.length; i++) {
            partitionGetters[i] = RowData.createFieldGetter(rowType.getTypeAt(partitionColumns[i]), partitionColumns[i]);
        }
        this.projection = partitionColumns.length == 0 ? null : ProjectedRowData.from(dataColumns);
        this.factory = ParquetFiles.writerFactory(new RowType(false, dataFields), conf);
    }

    @Override
    public void write(RowData row, Context context) throws IOException {
        OpenFile file = last != null && samePartition(row) ? last : fileFor(row);
        last = file;
        file.stats.update(row);
        file.writer.addElement(projection == null ? row : projection.replaceRow(row));
    }

    /** Rows mostly come partition after partition (e.g. by day): the path is built only when it changes. */
    private boolean samePartition(RowData row) {
        for (int i = 0; i < partitionColumns.length; i++) {
            if (!java.util.Objects.equals(partitionGetters[i].getFieldOrNull(row), lastPartition[i])) {
                return false;
            }
        }
        return true;
    }

    private OpenFile fileFor(RowData row) throws IOException {
        String dir = partitionPath(row);
        OpenFile file = open.get(dir);
        if (file == null) {
            file = new OpenFile(dir, partitionValues(row));
            open.put(dir, file);
        }
        for (int i = 0; i < partitionColumns.length; i++) {
            Object v = partitionGetters[i].getFieldOrNull(row);
            // a string from a reused row is copied: it is compared with later rows
            lastPartition[i] = v instanceof StringData ? StringData.fromBytes(((StringData) v).toBytes()) : v;
        }
        return file;
    }

    @Override
    public void flush(boolean endOfInput) {
        // files are closed in prepareCommit, once per checkpoint
    }

    @Override
    public Collection<DeltaWriteResult> prepareCommit() throws IOException {
        for (OpenFile file : open.values()) {
            finished.add(file.finish());
        }
        open.clear();
        last = null;
        if (finished.isEmpty()) {
            return Collections.emptyList();
        }
        DeltaWriteResult result = new DeltaWriteResult(finished);
        finished.clear();
        return Collections.singletonList(result);
    }

    @Override
    public void close() throws Exception {
        for (OpenFile file : open.values()) {
            file.abort();
        }
        open.clear();
        last = null;
    }

    private String partitionPath(RowData row) {
        if (partitionColumns.length == 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < partitionColumns.length; i++) {
            Object v = partitionGetters[i].getFieldOrNull(row);
            sb.append(PartitionPaths.escape(rowType.getFieldNames().get(partitionColumns[i])))
                    .append('=')
                    .append(v == null ? PartitionPaths.NULL : PartitionPaths.escape(PartitionPaths.value(rowType.getTypeAt(partitionColumns[i]), v)))
                    .append('/');
        }
        return sb.toString();
    }

    private Map<String, String> partitionValues(RowData row) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < partitionColumns.length; i++) {
            LogicalType t = rowType.getTypeAt(partitionColumns[i]);
            Object v = partitionGetters[i].getFieldOrNull(row);
            values.put(rowType.getFieldNames().get(partitionColumns[i]), v == null ? null : PartitionPaths.value(t, v));
        }
        return values;
    }

    private final class OpenFile {
        final String relative; // physical path below the table root
        final Map<String, String> partitionValues;
        final Path path;
        final CountingStream out;
        final BulkWriter<RowData> writer;
        final FileStats stats;

        OpenFile(String dir, Map<String, String> partitionValues) throws IOException {
            this.relative = dir + String.format("part-%05d-%s.snappy.parquet", subtask, UUID.randomUUID());
            this.partitionValues = partitionValues;
            this.path = new Path(root, relative);
            this.out = new CountingStream(fs.create(path, false));
            this.writer = factory.create(out);
            this.stats = new FileStats(rowType, dataColumns);
        }

        DataFile finish() throws IOException {
            writer.finish(); // the Parquet footer; leaves the stream open
            out.close(); // the upload, for s3a
            LOG.debug("delta sink: wrote {} ({} rows, {} bytes)", path, stats.records(), out.getPos());
            return new DataFile(PartitionPaths.toUri(relative), partitionValues, out.getPos(),
                    System.currentTimeMillis(), stats.records(), stats.toJson());
        }

        void abort() {
            try {
                out.close();
            } catch (IOException | RuntimeException e) {
                LOG.debug("delta sink: abort {}", path, e);
            }
        }
    }

    /** Flink's stream interface over a Hadoop output stream. */
    private static final class CountingStream extends org.apache.flink.core.fs.FSDataOutputStream {
        private final org.apache.hadoop.fs.FSDataOutputStream out;
        private long pos;
        private boolean closed;

        CountingStream(org.apache.hadoop.fs.FSDataOutputStream out) {
            this.out = out;
        }

        @Override
        public long getPos() {
            return pos;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            pos++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            pos += len;
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void sync() throws IOException {
            out.hflush();
        }

        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                out.close();
            }
        }
    }
}
