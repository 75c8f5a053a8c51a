import Hummingbird

/// `/healthz` and `/metrics`, for load balancers and Prometheus (no token).
struct OperationsRoutes {
    let metrics: ServerMetrics

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.get("healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        routes.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        return routes
    }
}
