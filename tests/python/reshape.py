"""Send telemetry for the reshaping processors (transform, filter) with the Python SDK.

Usage: reshape.py <grpc-endpoint host:port>

Spans (service "checkout"): 5 named "GET /cart" carrying a header attribute
http.request.header.authorization="Bearer s3cret"; 3 named "GET /healthz" with
http.route="/healthz"; 2 named "GET /livez". Logs: 4 records whose bodies are JSON objects
{"user": "u<i>", "status": 200 + i}. Metrics: an observable gauge "queue_depth" reading 7.
Exits non-zero if an export failed.
"""

import json
import logging
import sys

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def main():
    endpoint = sys.argv[1]
    resource = Resource.create({"service.name": "checkout"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = tracer_provider.get_tracer("weir.reshape")
    for _ in range(5):
        with tracer.start_as_current_span("GET /cart") as span:
            span.set_attribute("http.request.header.authorization", "Bearer s3cret")
    for _ in range(3):
        with tracer.start_as_current_span("GET /healthz") as span:
            span.set_attribute("http.route", "/healthz")
    for _ in range(2):
        with tracer.start_as_current_span("GET /livez"):
            pass

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    logger = logging.getLogger("weir.reshape")
    logger.propagate = False
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    for i in range(4):
        logger.warning(json.dumps({"user": f"u{i}", "status": 200 + i}))

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter_provider.get_meter("weir.reshape").create_observable_gauge(
        "queue_depth", callbacks=[lambda options: [Observation(7)]]
    )

    ok = tracer_provider.force_flush() and logger_provider.force_flush() and meter_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
