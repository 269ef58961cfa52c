"""Send spans to weir with one of the OpenTelemetry Python SDK's Zipkin or Jaeger exporters.

Usage: trace_peers.py <exporter> <endpoint> <count>

exporter: zipkin-json, zipkin-proto (endpoint http://host:port/api/v2/spans),
          jaeger-http (endpoint http://host:port/api/traces), jaeger-udp (endpoint host:port).

Sends <count> traces, each a SERVER span "request-<i>" (attribute index=<i>, an event
"checkpoint" with step=<i>) and its CLIENT child "call-<i>", whose status is ERROR "boom-<i>"
for odd <i> and OK otherwise, from service "weir-peer", scope "weir.peers" 1.0. Prints each
finished span as a JSON line (ids in hex, name, kind, status) for the test to compare.
"""

import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


def exporter(kind, endpoint):
    if kind == "zipkin-json":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if kind == "zipkin-proto":
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    if kind == "jaeger-http":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        return JaegerExporter(collector_endpoint=endpoint)
    if kind == "jaeger-udp":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        host, port = endpoint.rsplit(":", 1)
        return JaegerExporter(agent_host_name=host, agent_port=int(port))
    raise SystemExit(f"unknown exporter {kind}")


def main():
    kind, endpoint, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    provider = TracerProvider(resource=Resource.create({"service.name": "weir-peer"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    # small batches: a UDP datagram holds at most 65000 bytes
    provider.add_span_processor(
        BatchSpanProcessor(exporter(kind, endpoint), max_export_batch_size=20)
    )
    tracer = provider.get_tracer("weir.peers", "1.0")
    for i in range(count):
        with tracer.start_as_current_span(
            f"request-{i}", kind=SpanKind.SERVER, attributes={"index": i}
        ) as server:
            server.add_event("checkpoint", {"step": i})
            with tracer.start_as_current_span(f"call-{i}", kind=SpanKind.CLIENT) as client:
                if i % 2:
                    client.set_status(Status(StatusCode.ERROR, f"boom-{i}"))
                else:
                    client.set_status(Status(StatusCode.OK))
    provider.shutdown()
    for span in memory.get_finished_spans():
        context = span.get_span_context()
        print(
            json.dumps(
                {
                    "trace_id": f"{context.trace_id:032x}",
                    "span_id": f"{context.span_id:016x}",
                    "parent_id": f"{span.parent.span_id:016x}" if span.parent else "",
                    "name": span.name,
                    "kind": span.kind.name,
                    "status": span.status.status_code.name,
                    "message": span.status.description or "",
                }
            )
        )


if __name__ == "__main__":
    main()
