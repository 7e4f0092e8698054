// A Node.js service under the OpenTelemetry SDK (no Pulse code): Express, traced by the
// http and express instrumentations, exported by the stock OTLP/HTTP exporter (JSON),
// configured by the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS,
// OTEL_SERVICE_NAME). Prints the port it listens on; flushes its spans on SIGTERM.
// Started by tests/otlp/test_node_service.py.
const { NodeSDK } = require("@opentelemetry/sdk-node");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http");
const { HttpInstrumentation } = require("@opentelemetry/instrumentation-http");
const { ExpressInstrumentation } = require("@opentelemetry/instrumentation-express");

const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
});
sdk.start();

const express = require("express");
const app = express();

app.get("/price/:sku", (req, res) => {
  res.json({ sku: req.params.sku, price: 42 });
});

app.get("/fail", () => {
  throw new Error("kaboom in express");
});

const server = app.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});

process.on("SIGTERM", async () => {
  server.close();
  try {
    await sdk.shutdown();
  } finally {
    process.exit(0);
  }
});
