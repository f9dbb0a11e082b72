package org.apache.flink.metrics.prometheus;

import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Properties;

/** {@code metrics.reporter.prom.factory.class: org.apache.flink.metrics.prometheus.LoopbackPrometheusReporterFactory}
 * with {@code metrics.reporter.prom.host} (default 127.0.0.1) and {@code metrics.reporter.prom.port}. */
public class LoopbackPrometheusReporterFactory implements MetricReporterFactory {
    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        // values may arrive typed (a YAML integer is an Integer): getProperty would miss them
        String host = String.valueOf(properties.getOrDefault("host", "127.0.0.1")).trim();
        int port = Integer.parseInt(String.valueOf(properties.getOrDefault("port", "9249")).trim());
        try {
            return new LoopbackPrometheusReporter(host, port);
        } catch (IOException e) {
            throw new UncheckedIOException("prometheus reporter: cannot listen on " + host + ":" + port, e);
        }
    }
}
