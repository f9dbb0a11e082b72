package io.lakectl.flink.delta;

import java.util.List;

import io.delta.standalone.types.BinaryType;
import io.delta.standalone.types.BooleanType;
import io.delta.standalone.types.ByteType;
import io.delta.standalone.types.DataType;
import io.delta.standalone.types.DateType;
import io.delta.standalone.types.DecimalType;
import io.delta.standalone.types.DoubleType;
import io.delta.standalone.types.FloatType;
import io.delta.standalone.types.IntegerType;
import io.delta.standalone.types.LongType;
import io.delta.standalone.types.ShortType;
import io.delta.standalone.types.StringType;
import io.delta.standalone.types.StructField;
import io.delta.standalone.types.StructType;
import io.delta.standalone.types.TimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/** Flink row type to Delta schema. TIMESTAMP and TIMESTAMP_LTZ both become Delta's (UTC) timestamp. */
final class DeltaSchemas {
    private DeltaSchemas() {}

    static StructType toDelta(RowType rowType) {
        StructField[] fields = new StructField[rowType.getFieldCount()];
        for (int i = 0; i < fields.length; i++) {
            LogicalType t = rowType.getTypeAt(i);
            fields[i] = new StructField(rowType.getFieldNames().get(i), toDelta(t), t.isNullable());
        }
        return new StructType(fields);
    }

    static DataType toDelta(LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return new StringType();
            case BOOLEAN:
                return new BooleanType();
            case TINYINT:
                return new ByteType();
            case SMALLINT:
                return new ShortType();
            case INTEGER:
                return new IntegerType();
            case BIGINT:
                return new LongType();
            case FLOAT:
                return new FloatType();
            case DOUBLE:
                return new DoubleType();
            case DECIMAL:
                org.apache.flink.table.types.logical.DecimalType d = (org.apache.flink.table.types.logical.DecimalType) type;
                return new DecimalType(d.getPrecision(), d.getScale());
            case DATE:
                return new DateType();
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return new TimestampType();
            case BINARY:
            case VARBINARY:
                return new BinaryType();
            default:
                throw new IllegalArgumentException("delta sink: unsupported column type " + type);
        }
    }

    static boolean isPartitionable(LogicalTypeRoot root) {
        switch (root) {
            case CHAR:
            case VARCHAR:
            case BOOLEAN:
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case DATE:
                return true;
            default:
                return false;
        }
    }

    static void validate(RowType rowType, List<String> partitionColumns) {
        toDelta(rowType);
        for (String col : partitionColumns) {
            int i = rowType.getFieldIndex(col);
            if (i < 0) {
                throw new IllegalArgumentException("delta sink: partition column '" + col + "' is not in " + rowType);
            }
            if (!isPartitionable(rowType.getTypeAt(i).getTypeRoot())) {
                throw new IllegalArgumentException("delta sink: cannot partition by " + col + " " + rowType.getTypeAt(i));
            }
        }
        if (partitionColumns.size() == rowType.getFieldCount()) {
            throw new IllegalArgumentException("delta sink: at least one column must not be a partition column");
        }
    }

    /** The same columns with the same types (nullability aside, which Delta may relax). */
    /**
     * Additive evolution: the table's columns, in their order, followed by the job's columns the
     * table does not have yet (nullable, so older files read them as null). Returns null when the
     * two disagree on a shared column's type, which no commit may paper over. A job with fewer
     * columns than the table (e.g. an older reader schema) keeps the table's schema: its files
     * simply lack those columns.
     */
    static StructType merged(StructType table, StructType job) {
        java.util.Map<String, StructField> existing = new java.util.LinkedHashMap<>();
        for (StructField f : table.getFields()) {
            existing.put(f.getName().toLowerCase(java.util.Locale.ROOT), f);
        }
        List<StructField> fields = new java.util.ArrayList<>(java.util.Arrays.asList(table.getFields()));
        for (StructField f : job.getFields()) {
            StructField old = existing.get(f.getName().toLowerCase(java.util.Locale.ROOT));
            if (old == null) {
                fields.add(new StructField(f.getName(), f.getDataType(), true));
            } else if (!old.getDataType().equals(f.getDataType())) {
                return null;
            }
        }
        return new StructType(fields.toArray(new StructField[0]));
    }

    static boolean sameColumns(StructType table, StructType expected) {
        StructField[] a = table.getFields();
        StructField[] b = expected.getFields();
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (!a[i].getName().equals(b[i].getName()) || !a[i].getDataType().equals(b[i].getDataType())) {
                return false;
            }
        }
        return true;
    }
}
