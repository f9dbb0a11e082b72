package io.lakectl.flink.delta;

import java.time.LocalDate;

import org.apache.flink.table.types.logical.LogicalType;

/** Hive-style partition directories, and their form in the Delta log (a URI path). */
final class PartitionPaths {
    static final String NULL = "__HIVE_DEFAULT_PARTITION__";
    private static final String UNSAFE = "\"#%'*/:=?\\{[]^";

    private PartitionPaths() {}

    /** The Delta partition value of a field (its string form; dates as yyyy-MM-dd). */
    static String value(LogicalType type, Object v) {
        switch (type.getTypeRoot()) {
            case DATE:
                return LocalDate.ofEpochDay((Integer) v).toString();
            default:
                return v.toString();
        }
    }

    /** Hive's escaping of a path component (what Spark and delta-rs do). */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || UNSAFE.indexOf(c) >= 0) {
                sb.append(String.format("%%%02X", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** A relative physical path as the Delta log stores it: a URI, so '%' and the rest encoded. */
    static String toUri(String relative) {
        try {
            return new java.net.URI(null, null, relative, null).getRawPath();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException(relative, e);
        }
    }
}
