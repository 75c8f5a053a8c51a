import ConciergeCore
import Foundation

/// A device's standing with one server: who it is and its tokens. Persist it (the CLI keeps it
/// in its replica file, mode 0600) whenever it changes: refresh tokens rotate on every use.
public struct Session: Hashable, Sendable {
    public var server: URL
    public var replica: ReplicaID
    public var principal: PrincipalID
    public var provider: ProviderID
    public var role: Role
    public var refreshToken: String
    public var accessToken: String

    public init(
        server: URL, replica: ReplicaID, principal: PrincipalID, provider: ProviderID, role: Role, refreshToken: String,
        accessToken: String
    ) {
        self.server = server
        self.replica = replica
        self.principal = principal
        self.provider = provider
        self.role = role
        self.refreshToken = refreshToken
        self.accessToken = accessToken
    }

    public var author: Author { Author(principal: principal, role: role) }

    /// A session from the server's answer to an enrolment or a refresh.
    public init(server: URL, answer: Value) throws(CodecError) {
        guard let replica = answer["replica"]?.stringValue.flatMap(ReplicaID.init),
            let refresh = answer["refreshToken"]?.stringValue, let access = answer["accessToken"]?.stringValue,
            let principal = answer["principal"], let id = principal["id"]?.stringValue,
            let provider = principal["provider"]?.stringValue, let role = principal["role"]?.stringValue
        else { throw CodecError(.missingMember, "the server's session answer is incomplete") }
        self.init(
            server: server, replica: replica, principal: PrincipalID(id), provider: ProviderID(provider),
            role: Role(role),
            refreshToken: refresh, accessToken: access)
    }
}
