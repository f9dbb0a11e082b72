package io.lakectl.flink.delta;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;

import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampType;

/**
 * Delta per-file statistics ({@code numRecords}, {@code nullCount}, and {@code minValues}/
 * {@code maxValues} where they are exact): numbers, decimals, dates, millisecond timestamps and
 * strings of at most 32 characters. Other top-level columns get a null count only, which readers
 * accept. Nested columns (ROW, ARRAY, MAP) get no statistics at all: Delta keys a struct's stats by
 * its leaves (a nested object), and none are collected for arrays and maps.
 */
final class FileStats {
    private static final int MAX_STRING = 32;
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final RowType rowType;
    private final int[] columns; // the top-level primitive data columns (partition columns are not in the file)
    private final RowData.FieldGetter[] getters;
    private final boolean[] ranged;
    private final Object[] min;
    private final Object[] max;
    private final long[] nulls;
    private final boolean[] poisoned; // NaN/infinity seen, or a string too long: no min/max
    private long records;

    FileStats(RowType rowType, int[] dataColumns) {
        this.rowType = rowType;
        this.columns = Arrays.stream(dataColumns).filter(c -> !isNested(rowType.getTypeAt(c))).toArray();
        int n = columns.length;
        getters = new RowData.FieldGetter[n];
        ranged = new boolean[n];
        min = new Object[n];
        max = new Object[n];
        nulls = new long[n];
        poisoned = new boolean[n];
        for (int i = 0; i < n; i++) {
            LogicalType t = rowType.getTypeAt(columns[i]);
            getters[i] = RowData.createFieldGetter(t, columns[i]);
            ranged[i] = hasRange(t);
        }
    }

    private static boolean isNested(LogicalType t) {
        switch (t.getTypeRoot()) {
            case ROW:
            case ARRAY:
            case MAP:
                return true;
            default:
                return false;
        }
    }

    private static boolean hasRange(LogicalType t) {
        switch (t.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case FLOAT:
            case DOUBLE:
            case DECIMAL:
            case DATE:
                return true;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
                return ((TimestampType) t).getPrecision() <= 3;
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return ((LocalZonedTimestampType) t).getPrecision() <= 3;
            default:
                return false;
        }
    }

    long records() {
        return records;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    void update(RowData row) {
        records++;
        for (int i = 0; i < columns.length; i++) {
            Object v = getters[i].getFieldOrNull(row);
            if (v == null) {
                nulls[i]++;
                continue;
            }
            if (!ranged[i] || poisoned[i]) {
                continue;
            }
            if (v instanceof StringData) {
                // bytes first (cheap); characters only when the bytes leave it open (UTF-8: 1-4 bytes each)
                int size = v instanceof BinaryStringData ? ((BinaryStringData) v).getSizeInBytes()
                        : ((StringData) v).toBytes().length;
                if (size > MAX_STRING * 4 || (size > MAX_STRING && v.toString().length() > MAX_STRING)) {
                    poisoned[i] = true;
                    continue;
                }
            } else if ((v instanceof Double || v instanceof Float) && !Double.isFinite(((Number) v).doubleValue())) {
                poisoned[i] = true;
                continue;
            }
            boolean lower = min[i] == null || ((Comparable) v).compareTo(min[i]) < 0;
            boolean higher = max[i] == null || ((Comparable) v).compareTo(max[i]) > 0;
            if ((lower || higher) && v instanceof StringData) {
                v = StringData.fromBytes(((StringData) v).toBytes()); // kept: detach it from a reused row
            }
            if (lower) {
                min[i] = v;
            }
            if (higher) {
                max[i] = v;
            }
        }
    }

    String toJson() {
        StringBuilder minJ = new StringBuilder();
        StringBuilder maxJ = new StringBuilder();
        StringBuilder nullJ = new StringBuilder();
        for (int i = 0; i < columns.length; i++) {
            String name = quote(rowType.getFieldNames().get(columns[i]));
            append(nullJ, name, Long.toString(nulls[i]));
            if (ranged[i] && !poisoned[i] && min[i] != null) {
                LogicalType t = rowType.getTypeAt(columns[i]);
                append(minJ, name, literal(t, min[i]));
                append(maxJ, name, literal(t, max[i]));
            }
        }
        return "{\"numRecords\":" + records
                + ",\"minValues\":{" + minJ + "},\"maxValues\":{" + maxJ + "},\"nullCount\":{" + nullJ + "}}";
    }

    private static void append(StringBuilder sb, String key, String value) {
        if (sb.length() > 0) {
            sb.append(',');
        }
        sb.append(key).append(':').append(value);
    }

    private static String literal(LogicalType t, Object v) {
        switch (t.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return quote(v.toString());
            case DECIMAL:
                return ((DecimalData) v).toBigDecimal().toPlainString();
            case DATE:
                return quote(LocalDate.ofEpochDay((Integer) v).toString());
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return quote(TS.format(Instant.ofEpochMilli(((TimestampData) v).getMillisecond())));
            default:
                return v.toString();
        }
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }
}
