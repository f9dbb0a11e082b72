package io.lakectl.flink.delta;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

import org.apache.flink.formats.parquet.ParquetWriterFactory;
import org.apache.flink.formats.parquet.row.ParquetRowDataWriter;
import org.apache.flink.formats.parquet.utils.ParquetSchemaConverter;
import org.apache.flink.formats.parquet.utils.SerializableConfiguration;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetOutputFormat;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;

/**
 * flink-parquet's RowData writer (what {@code ParquetRowDataBuilder} builds, same settings from the
 * Hadoop conf) on a corrected schema. flink-parquet already writes the standard 3-level LIST
 * ({@code list}/{@code element}) and MAP ({@code key_value}/{@code key}/{@code value}) groups and
 * nested rows, and its timestamp encoding applies at any depth; but it declares map keys optional,
 * which the Parquet spec forbids and readers refuse (Arrow: "Map keys must be annotated as
 * required"). Here the keys are required, as Delta's (never null) map keys are.
 */
final class ParquetFiles {
    private ParquetFiles() {}

    static ParquetWriterFactory<RowData> writerFactory(RowType rowType, Configuration conf) {
        SerializableConfiguration serializable = new SerializableConfiguration(conf);
        return new ParquetWriterFactory<>(out -> {
            Configuration c = serializable.conf();
            return new Builder(out, rowType)
                    .withCompressionCodec(CompressionCodecName.fromConf(c.get(ParquetOutputFormat.COMPRESSION, "SNAPPY")))
                    .withRowGroupSize(ParquetOutputFormat.getLongBlockSize(c))
                    .withPageSize(ParquetOutputFormat.getPageSize(c))
                    .withDictionaryPageSize(ParquetOutputFormat.getDictionaryPageSize(c))
                    .withDictionaryEncoding(ParquetOutputFormat.getEnableDictionary(c))
                    .withValidation(ParquetOutputFormat.getValidation(c))
                    .withWriterVersion(ParquetOutputFormat.getWriterVersion(c))
                    .withConf(c)
                    .build();
        });
    }

    static MessageType schema(RowType rowType, Configuration conf) {
        MessageType flink = ParquetSchemaConverter.convertToParquetMessageType("flink_schema", rowType, conf);
        return new MessageType(flink.getName(), requiredMapKeys(flink.getFields()));
    }

    private static List<Type> requiredMapKeys(List<Type> fields) {
        List<Type> result = new ArrayList<>(fields.size());
        for (Type t : fields) {
            result.add(t.isPrimitive() ? t : requiredMapKeys(t.asGroupType()));
        }
        return result;
    }

    private static GroupType requiredMapKeys(GroupType group) {
        List<Type> fields = requiredMapKeys(group.getFields());
        if (group.getLogicalTypeAnnotation() instanceof LogicalTypeAnnotation.MapLogicalTypeAnnotation) {
            GroupType keyValue = fields.get(0).asGroupType();
            List<Type> kv = new ArrayList<>(keyValue.getFields());
            kv.set(0, required(kv.get(0)));
            fields.set(0, keyValue.withNewFields(kv));
        }
        return group.withNewFields(fields);
    }

    private static Type required(Type key) {
        if (key.isPrimitive()) {
            PrimitiveType p = key.asPrimitiveType();
            return Types.primitive(p.getPrimitiveTypeName(), Type.Repetition.REQUIRED)
                    .length(p.getTypeLength()).as(p.getLogicalTypeAnnotation()).named(p.getName());
        }
        return Types.buildGroup(Type.Repetition.REQUIRED).as(key.getLogicalTypeAnnotation())
                .addFields(key.asGroupType().getFields().toArray(new Type[0])).named(key.getName());
    }

    private static final class Builder extends ParquetWriter.Builder<RowData, Builder> {
        private final RowType rowType;

        Builder(OutputFile out, RowType rowType) {
            super(out);
            this.rowType = rowType;
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<RowData> getWriteSupport(Configuration conf) {
            return new RowDataWriteSupport(rowType, conf);
        }
    }

    private static final class RowDataWriteSupport extends WriteSupport<RowData> {
        private final RowType rowType;
        private final Configuration conf;
        private final MessageType schema;
        private ParquetRowDataWriter writer;

        RowDataWriteSupport(RowType rowType, Configuration conf) {
            this.rowType = rowType;
            this.conf = conf;
            this.schema = schema(rowType, conf);
        }

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(schema, new HashMap<>());
        }

        @Override
        public void prepareForWrite(RecordConsumer consumer) {
            // utcTimestamp=true: TIMESTAMP values are written as UTC wall-clock, TIMESTAMP_LTZ as the instant
            writer = new ParquetRowDataWriter(consumer, rowType, schema, true, conf);
        }

        @Override
        public void write(RowData record) {
            writer.write(record);
        }
    }
}
