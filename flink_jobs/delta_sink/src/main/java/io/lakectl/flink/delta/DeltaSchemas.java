package io.lakectl.flink.delta;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.delta.standalone.types.ArrayType;
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
import io.delta.standalone.types.MapType;
import io.delta.standalone.types.ShortType;
import io.delta.standalone.types.StringType;
import io.delta.standalone.types.StructField;
import io.delta.standalone.types.StructType;
import io.delta.standalone.types.TimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * Flink row type to Delta schema, nested types included (ROW to struct, ARRAY to array, MAP to map).
 * TIMESTAMP and TIMESTAMP_LTZ both become Delta's (UTC) timestamp.
 */
final class DeltaSchemas {
    private DeltaSchemas() {}

    static StructType toDelta(RowType rowType) {
        return toDelta(rowType, false);
    }

    /**
     * {@code inCollection}: inside an array element or a map key/value, where Delta refuses NOT NULL
     * struct fields ("Delta does not support NOT NULL constraints nested within arrays or maps"):
     * they become nullable there.
     */
    private static StructType toDelta(RowType rowType, boolean inCollection) {
        StructField[] fields = new StructField[rowType.getFieldCount()];
        for (int i = 0; i < fields.length; i++) {
            LogicalType t = rowType.getTypeAt(i);
            fields[i] = new StructField(rowType.getFieldNames().get(i), toDelta(t, inCollection), inCollection || t.isNullable());
        }
        return new StructType(fields);
    }

    private static DataType toDelta(LogicalType type, boolean inCollection) {
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
            case ROW:
                return toDelta((RowType) type, inCollection);
            case ARRAY:
                LogicalType element = ((org.apache.flink.table.types.logical.ArrayType) type).getElementType();
                return new ArrayType(toDelta(element, true), element.isNullable());
            case MAP:
                org.apache.flink.table.types.logical.MapType m = (org.apache.flink.table.types.logical.MapType) type;
                // Delta map keys are never null, whatever Flink's key type says
                return new MapType(toDelta(m.getKeyType(), true), toDelta(m.getValueType(), true), m.getValueType().isNullable());
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

    /**
     * Additive evolution: the table's columns, in their order, followed by the job's columns the
     * table does not have yet (nullable, so older files read them as null); the same inside structs,
     * at any depth (also the structs in arrays and map values). Returns null when the two disagree on
     * a shared field's type, which no commit may paper over. A job with fewer columns or fields than
     * the table (e.g. an older reader schema) keeps the table's: its files simply lack them. Shared
     * fields keep the table's nullability.
     */
    static StructType merged(StructType table, StructType job) {
        Map<String, StructField> jobFields = byName(job);
        List<StructField> fields = new ArrayList<>();
        for (StructField old : table.getFields()) {
            StructField f = jobFields.remove(old.getName().toLowerCase(Locale.ROOT));
            DataType type = f == null ? old.getDataType() : merged(old.getDataType(), f.getDataType());
            if (type == null) {
                return null;
            }
            fields.add(new StructField(old.getName(), type, old.isNullable(), old.getMetadata()));
        }
        for (StructField f : jobFields.values()) {
            fields.add(new StructField(f.getName(), f.getDataType(), true));
        }
        return new StructType(fields.toArray(new StructField[0]));
    }

    private static DataType merged(DataType table, DataType job) {
        if (table instanceof StructType && job instanceof StructType) {
            return merged((StructType) table, (StructType) job);
        }
        if (table instanceof ArrayType && job instanceof ArrayType) {
            ArrayType t = (ArrayType) table;
            DataType element = merged(t.getElementType(), ((ArrayType) job).getElementType());
            return element == null ? null : new ArrayType(element, t.containsNull());
        }
        if (table instanceof MapType && job instanceof MapType) {
            MapType t = (MapType) table;
            MapType j = (MapType) job;
            DataType value = merged(t.getValueType(), j.getValueType());
            return value == null || !t.getKeyType().equals(j.getKeyType())
                    ? null : new MapType(t.getKeyType(), value, t.valueContainsNull());
        }
        // primitives (DecimalType compares precision and scale)
        return table.equals(job) ? table : null;
    }

    private static Map<String, StructField> byName(StructType struct) {
        Map<String, StructField> fields = new LinkedHashMap<>();
        for (StructField f : struct.getFields()) {
            fields.put(f.getName().toLowerCase(Locale.ROOT), f);
        }
        return fields;
    }

    /**
     * The same columns with the same types, at any depth (nullability aside, which Delta may relax).
     * Delta Standalone's DataType.equals is structural but counts nullability in, hence the walk.
     */
    static boolean sameColumns(StructType table, StructType expected) {
        StructField[] a = table.getFields();
        StructField[] b = expected.getFields();
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (!a[i].getName().equals(b[i].getName()) || !sameType(a[i].getDataType(), b[i].getDataType())) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameType(DataType a, DataType b) {
        if (a instanceof StructType && b instanceof StructType) {
            return sameColumns((StructType) a, (StructType) b);
        }
        if (a instanceof ArrayType && b instanceof ArrayType) {
            return sameType(((ArrayType) a).getElementType(), ((ArrayType) b).getElementType());
        }
        if (a instanceof MapType && b instanceof MapType) {
            return sameType(((MapType) a).getKeyType(), ((MapType) b).getKeyType())
                    && sameType(((MapType) a).getValueType(), ((MapType) b).getValueType());
        }
        return a.equals(b);
    }
}
