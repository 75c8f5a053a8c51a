import ConciergeCore
import Hummingbird

/// An error answer: a stable code, a message safe to show, and the HTTP status. Every error the
/// API returns has the body `{"error":{"code":"...","message":"..."}}`; never a stack trace.
struct APIError: HTTPResponseError {
    var error: SyncError

    init(_ error: SyncError) { self.error = error }
    init(_ code: SyncError.Code, _ message: String) { self.error = SyncError(code, message) }

    var status: HTTPResponse.Status {
        switch error.code {
        case .unauthorized, .deviceRevoked, .invalidCode: .unauthorized
        case .outOfScope: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .upgradeRequired: .upgradeRequired
        case .rateLimited: .tooManyRequests
        case .internalError: .internalServerError
        case .unavailable: .serviceUnavailable
        default: .badRequest
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(.object(["error": error.value]), status: status)
    }
}

/// JSON bodies through the core's canonical codec.
enum JSONBody {
    static let binaryType = BinaryForm.mediaType

    /// Whether the request's `Accept` header names the binary form.
    static func acceptsBinary(_ request: Request) -> Bool {
        request.headers[values: .accept].contains { header in
            header.split(separator: ",").contains {
                $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == binaryType
            }
        }
    }

    /// Whether the binary type the request accepts carries the parameter `images=1`: the client
    /// takes snapshot records as the images the server keeps (``RecordImage``).
    static func acceptsImages(_ request: Request) -> Bool {
        request.headers[values: .accept].contains { header in
            header.split(separator: ",").contains { type in
                let parts = type.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                return parts.first == binaryType && parts.dropFirst().contains("images=1")
            }
        }
    }

    static func binaryResponse(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: binaryType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func response(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: CanonicalJSON.encode(value))))
    }

    /// Whether the request's body is in the binary form.
    static func isBinary(_ request: Request) -> Bool {
        request.headers[.contentType]?.lowercased().hasPrefix(binaryType) ?? false
    }

    /// The request's body, whatever its form.
    /// - Throws: ``APIError`` for a body over `limit` (413).
    static func bytes(of request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.payloadTooLarge, "the body is larger than \(limit) bytes")
        }
    }

    /// The request's JSON body.
    /// - Throws: ``APIError`` for another content type (415), a body over `limit` (413) or
    ///   malformed JSON (400).
    static func read(_ request: Request, limit: Int) async throws -> Value {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "send application/json")
        }
        let buffer = try await bytes(of: request, limit: limit)
        do {
            return try CanonicalJSON.decode(buffer.readableBytesView)
        } catch {
            throw APIError(.malformedRequest, error.message)
        }
    }
}
