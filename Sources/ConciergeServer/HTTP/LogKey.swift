/// Log metadata keys, in one place.
enum LogKey {
    static let requestID = "concierge.request.id"
    static let principal = "concierge.principal.id"
    static let status = "concierge.http.status"
    static let path = "concierge.http.path"
    static let method = "concierge.http.method"
    static let duration = "concierge.http.duration_ms"
    static let error = "concierge.error"
    static let device = "concierge.device"
    static let code = "concierge.code"
    static let changeSet = "concierge.change_set"
}
