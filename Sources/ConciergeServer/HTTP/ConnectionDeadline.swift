import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// Closes a connection that has not sent a whole first request head within the deadline: an idle
/// connection, or a head sent in part and left there. Hummingbird's own idle timeout (set too)
/// starts only once a first head has been parsed, with the WebSocket upgrade channel, so such a
/// connection stayed open for ever. This handler sits first in the pipeline, on the raw bytes,
/// looks for the blank line that ends the first head, and then leaves the pipeline: from there on
/// Hummingbird's timeout applies (it never cuts a request the server is still answering), and a
/// live socket is kept alive by the server's pings.
final class FirstHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// The last bytes read, up to three: the blank line may arrive split across reads.
    private var tail: [UInt8] = []

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let bytes = tail + buffer.readableBytesView
        let ended =
            bytes.count >= 4
            && (0...(bytes.count - 4)).contains { index in
                bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10
            }
        tail = Array(bytes.suffix(3))
        context.fireChannelRead(data)
        if ended {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

/// A child channel that puts ``FirstHeadDeadlineHandler`` in front of another.
struct DeadlineChannel<Base: ServerChildChannel>: ServerChildChannel {
    let base: Base
    let timeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Base.Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FirstHeadDeadlineHandler(timeout: timeout), position: .first)
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the WebSocket upgrade; a connection is closed when it sends no whole first
    /// request head within `idleTimeout` (``FirstHeadDeadlineHandler``), or stays idle that long
    /// between requests (Hummingbird's idle timeout).
    static func http1WebSocketUpgrade<Router: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: Router, idleTimeout: TimeAmount
    ) -> HTTPServerBuilder where Router.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        return .init { responder in
            DeadlineChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init(http1: .init(idleTimeout: idleTimeout))),
                timeout: idleTimeout)
        }
    }
}
