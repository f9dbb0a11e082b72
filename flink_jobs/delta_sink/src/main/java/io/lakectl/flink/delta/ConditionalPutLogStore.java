package io.lakectl.flink.delta;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.util.Iterator;

import io.delta.storage.HadoopFileSystemLogStore;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Delta's log on S3 with a second writer: every commit file {@code _delta_log/N.json} is created with
 * a conditional PUT ({@code If-None-Match: *}, Hadoop S3A's {@code fs.option.create.conditional.overwrite}),
 * so that of two writers committing version N at once exactly one wins and the other gets
 * {@link FileAlreadyExistsException}, on which Delta Standalone checks for conflicts and retries at N+1.
 *
 * <p>Delta's own {@code S3SingleDriverLogStore} checks that N.json is absent and then PUTs it
 * unconditionally: safe with one writer process only. {@code lakectl maintain} compacts and vacuums the
 * Bronze tables (delta-rs, itself committing with conditional PUTs) while this job appends; in the gap
 * between the check and the PUT either writer could overwrite the other's commit, and an overwritten
 * append is a lost checkpoint's rows. S3, MinIO and S3Proxy honour {@code If-None-Match} on PUT.
 *
 * <p>{@code _last_checkpoint} (written with overwrite) is replaced in place, as Delta expects.
 */
public class ConditionalPutLogStore extends HadoopFileSystemLogStore {
    static final String CONDITIONAL_CREATE = "fs.option.create.conditional.overwrite";

    public ConditionalPutLogStore(Configuration initHadoopConf) {
        super(initHadoopConf);
    }

    @Override
    public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf)
            throws IOException {
        FileSystem fs = path.getFileSystem(hadoopConf);
        if (overwrite) {
            try (FSDataOutputStream out = fs.create(path, true)) {
                out.write(lines(actions));
            }
            return;
        }
        byte[] content = lines(actions); // built first: nothing can fail half-way through the upload
        FSDataOutputStream out = (FSDataOutputStream) fs.createFile(path).overwrite(false)
                .must(CONDITIONAL_CREATE, "true").build();
        try {
            out.write(content);
            out.close(); // S3A uploads on close: the conditional PUT happens here
        } catch (IOException e) {
            try {
                out.abort(); // never upload a part-written commit (a no-op once closed)
            } catch (UnsupportedOperationException notAbortable) {
                // a store without uploads to abort
            }
            if (refusedAsExisting(e)) {
                throw new FileAlreadyExistsException(path.toString());
            }
            throw e;
        }
    }

    private static byte[] lines(Iterator<String> actions) {
        StringBuilder text = new StringBuilder();
        while (actions.hasNext()) {
            text.append(actions.next()).append('\n');
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The store refused the PUT because the object exists: S3A reports 412 Precondition Failed as a
     * RemoteFileChangedException (hadoop-aws, not on this module's compile path), a local file system as
     * Hadoop's FileAlreadyExistsException. */
    static boolean refusedAsExisting(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof org.apache.hadoop.fs.FileAlreadyExistsException
                    || "RemoteFileChangedException".equals(t.getClass().getSimpleName())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
        return false; // a PUT is atomic: N.json appears whole or not at all
    }
}
