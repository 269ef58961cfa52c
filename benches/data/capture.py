import socket, threading, sys, http.server
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

kind, out = sys.argv[1], sys.argv[2]
bodies = []
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers['Content-Length'])
        bodies.append(self.rfile.read(n))
        self.send_response(202); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
def udp_read():
    while True:
        data, _ = udp.recvfrom(70000); bodies.append(data)
threading.Thread(target=udp_read, daemon=True).start()
port = srv.server_address[1]
if kind == "zipkin-json":
    from opentelemetry.exporter.zipkin.json import ZipkinExporter; exp = ZipkinExporter(endpoint=f"http://127.0.0.1:{port}/api/v2/spans")
elif kind == "zipkin-proto":
    from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter; exp = ZipkinExporter(endpoint=f"http://127.0.0.1:{port}/api/v2/spans")
elif kind == "jaeger-http":
    from opentelemetry.exporter.jaeger.thrift import JaegerExporter; exp = JaegerExporter(collector_endpoint=f"http://127.0.0.1:{port}/api/traces")
else:
    from opentelemetry.exporter.jaeger.thrift import JaegerExporter; exp = JaegerExporter(agent_host_name="127.0.0.1", agent_port=udp.getsockname()[1])
provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "prod"}))
provider.add_span_processor(BatchSpanProcessor(exp, max_export_batch_size=100, schedule_delay_millis=60000))
tracer = provider.get_tracer("shop.http", "1.0")
for i in range(50):
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes={"http.request.method": "GET", "http.route": "/cart", "http.response.status_code": 200, "user.tier": "gold", "index": i}) as s:
        with tracer.start_as_current_span("SELECT carts", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM carts WHERE id = $1", "server.address": "db-1", "server.port": 5432}):
            pass
provider.shutdown()
import time; time.sleep(0.3)
open(out, "wb").write(bodies[0])
print(kind, len(bodies), len(bodies[0]))
