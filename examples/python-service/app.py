"""A small Flask shop service, run unmodified under OpenTelemetry's zero-code
instrumentation:

    opentelemetry-instrument python app.py

It serves a few routes, sends itself a fixed workload (12 orders, 3 of them
failing), logs through the standard `logging` module, counts orders with the
OpenTelemetry metrics API, then exits (the SDK flushes every signal at exit).
It knows nothing of lgtm-check: `lgtm-check app -- opentelemetry-instrument python
app.py` points its exporters at lgtm-check's recording gateway through the standard
OTEL_* variables and checks that everything it sent arrived.
"""

import logging
import threading
import time
import urllib.error
import urllib.request

from flask import Flask, jsonify
from opentelemetry import metrics
from werkzeug.serving import make_server

log = logging.getLogger("shop")
meter = metrics.get_meter("shop")
orders = meter.create_counter("shop.orders", unit="{order}", description="orders placed")

app = Flask(__name__)


@app.get("/api/orders/<int:order_id>")
def order(order_id: int):
    if order_id % 4 == 3:
        log.error("payment declined for order %d", order_id)
        orders.add(1, {"order.status": "failed"})
        return jsonify(error="payment declined"), 502
    log.info("order %d paid", order_id)
    orders.add(1, {"order.status": "paid"})
    return jsonify(order=order_id, status="paid")


@app.get("/health")
def health():
    return "ok"


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    server = make_server("127.0.0.1", 0, app)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for order_id in range(12):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/orders/{order_id}").read()
        except urllib.error.HTTPError as e:
            e.read()
    log.warning("workload done: 12 orders")
    server.shutdown()
    time.sleep(0.1)


if __name__ == "__main__":
    main()
