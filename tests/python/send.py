"""Send a known set of traces, metrics and logs to weir with the OpenTelemetry Python SDK.

Usage: send.py <grpc|http> <endpoint> <count>

grpc: endpoint is host:port of weir's OTLP/gRPC receiver.
http: endpoint is http://host:port of weir's OTLP/HTTP receiver (signal paths are added).

Sends <count> spans named operation-<i> with attribute index=<i>, a counter "requests"
incremented <count> times by 1 with attribute parity=even|odd, and <count> warning log
records "record <i>" with attribute index=<i>. Exits non-zero if an export failed.
"""

import logging
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor


def exporters(protocol, endpoint):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True),
            OTLPMetricExporter(endpoint=endpoint, insecure=True),
            OTLPLogExporter(endpoint=endpoint, insecure=True),
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return (
        OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
        OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"),
    )


def main():
    protocol, endpoint, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    resource = Resource.create({"service.name": "weir-python-e2e", "transport": protocol})
    span_exporter, metric_exporter, log_exporter = exporters(protocol, endpoint)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer("weir.e2e")
    for i in range(count):
        with tracer.start_as_current_span(f"operation-{i}") as span:
            span.set_attribute("index", i)

    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("weir.e2e").create_counter("requests")
    for i in range(count):
        counter.add(1, {"parity": "even" if i % 2 == 0 else "odd"})

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    logger = logging.getLogger("weir.e2e")
    logger.propagate = False
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    for i in range(count):
        logger.warning("record %d", i, extra={"index": i})

    ok = tracer_provider.force_flush() and meter_provider.force_flush() and logger_provider.force_flush()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
