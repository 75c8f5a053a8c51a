/// The version of Concierge this build is: both binaries print it (`--version`), and the server
/// reports it as a metric.
public enum ConciergeVersion {
    public static let current = "0.31.0"
}
