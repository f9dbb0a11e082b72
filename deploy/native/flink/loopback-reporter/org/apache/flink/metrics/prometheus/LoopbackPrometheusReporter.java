package org.apache.flink.metrics.prometheus;

import io.prometheus.client.exporter.HTTPServer;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Flink's Prometheus reporter, listening on one address instead of all interfaces.
 *
 * <p>Flink 1.20's PrometheusReporter has no bind-address option; lakectl's native stack binds every
 * service to 127.0.0.1. Same package as the upstream reporter: its registry is package-private.
 */
public class LoopbackPrometheusReporter extends AbstractPrometheusReporter {
    private final HTTPServer server;

    LoopbackPrometheusReporter(String host, int port) throws IOException {
        this.server = new HTTPServer(new InetSocketAddress(host, port), this.registry, true);
        log.info("Started PrometheusReporter HTTP server on {}:{}.", host, port);
    }

    @Override
    public void close() {
        server.stop();
        super.close();
    }
}
