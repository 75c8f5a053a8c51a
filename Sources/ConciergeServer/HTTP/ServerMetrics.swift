import ConciergeCore
import Foundation
import Prometheus

/// The server's metrics, in a Prometheus registry of its own (so that several servers can run in
/// one process, as tests do), served at `/metrics`.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let pushes: Counter
    let pulls: Counter
    let pushDuration: DurationHistogram
    let pullDuration: DurationHistogram
    let accepted: Counter
    let duplicates: Counter
    let enters: Counter
    let leaves: Counter
    let liveClients: Gauge
    /// How many log positions behind the head each pull starts: the replicas' lag.
    let pullLag: ValueHistogram

    public init() {
        let buckets: [Duration] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(1000),
        ]
        requests = registry.makeCounter(name: "concierge_http_requests_total", help: "HTTP requests served")
        pushes = registry.makeCounter(name: "concierge_push_total", help: "push requests")
        pulls = registry.makeCounter(name: "concierge_pull_total", help: "pull requests")
        pushDuration = registry.makeDurationHistogram(
            name: "concierge_push_duration_seconds", buckets: buckets, help: "push latency")
        pullDuration = registry.makeDurationHistogram(
            name: "concierge_pull_duration_seconds", buckets: buckets, help: "pull latency")
        accepted = registry.makeCounter(name: "concierge_change_sets_accepted_total", help: "change sets accepted")
        duplicates = registry.makeCounter(
            name: "concierge_change_sets_duplicate_total", help: "replays answered with the stored outcome")
        enters = registry.makeCounter(name: "concierge_scope_enter_total", help: "records entering a principal's scope")
        leaves = registry.makeCounter(name: "concierge_scope_leave_total", help: "records leaving a principal's scope")
        liveClients = registry.makeGauge(name: "concierge_live_clients", help: "connected live clients")
        pullLag = registry.makeValueHistogram(
            name: "concierge_pull_lag_positions", buckets: [0, 1, 10, 100, 1_000, 10_000, 100_000],
            help: "log positions between a pull's cursor and the head: how far behind replicas are")
    }

    func record(_ counts: PushCounts) {
        accepted.increment(by: Int64(counts.accepted))
        duplicates.increment(by: Int64(counts.duplicates))
        enters.increment(by: Int64(counts.enters))
        leaves.increment(by: Int64(counts.leaves))
        for (code, count) in counts.rejected {
            // The registry returns the counter already made for the same name and labels.
            registry.makeCounter(
                name: "concierge_change_sets_rejected_total", labels: [("code", code.rawValue)],
                help: "change sets rejected, by code"
            ).increment(by: Int64(count))
        }
    }

    /// Log positions between the snapshot image builder and the log's head (0 once it has caught
    /// up). Made by its first report: absent until the builder has looked once.
    func recordSnapshotImagesLag(_ positions: Int) {
        registry.makeGauge(
            name: "concierge_snapshot_images_lag_positions",
            help: "log positions the snapshot image builder is behind the head, 0 when caught up"
        ).set(Int64(positions))
    }

    func recordReset(reason: String) {
        registry.makeCounter(
            name: "concierge_resets_total", labels: [("reason", reason)], help: "reset snapshots sent, by cause"
        ).increment()
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
