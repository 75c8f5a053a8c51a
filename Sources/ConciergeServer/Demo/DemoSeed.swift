import ConciergeCore

/// The demo provider of `--demo`. The source of truth is fixtures/demo/seed.json; a test fails
/// when this copy and the file differ.
public enum DemoSeed {
    public static let json = #"""
        {
          "provider": {"id": "acme-telecom", "name": "ACME Telecom"},
          "principals": [
            {"id": "anna", "role": "customer", "name": "Anna Berger"},
            {"id": "carl", "role": "customer", "name": "Carl Dietz"},
            {"id": "ben", "role": "agent", "name": "Ben Okafor", "skills": ["router", "billing"]},
            {"id": "dora", "role": "agent", "name": "Dora Lind", "skills": ["billing"], "queues": ["priority"]},
            {"id": "tom", "role": "technician", "name": "Tom Weber", "skills": ["fibre"]},
            {"id": "sue", "role": "supervisor", "name": "Sue Park"},
            {"id": "mail-gateway", "role": "integration", "name": "E-mail gateway"}
          ]
        }

        """#

    /// Creates the demo provider and its principals unless they exist.
    /// - Returns: the principals created, with a one-time enrolment code each (empty when the demo
    ///   was seeded before).
    public static func seed(into store: any ServerStore) async throws -> [(principal: Principal, code: String)] {
        let value = try CanonicalJSON.decode(json)
        guard let provider = value["provider"], let id = provider["id"]?.stringValue,
            let principals = value["principals"]?.arrayValue
        else { throw StoreError(.corrupt, "the demo seed is malformed") }
        do {
            try await store.createProvider(id: ProviderID(id), name: provider["name"]?.stringValue ?? id)
        } catch let error as StoreError where error.code == .conflict {
            return []
        }
        var created: [(Principal, String)] = []
        for entry in principals {
            guard let principalID = entry["id"]?.stringValue, let role = entry["role"]?.stringValue else { continue }
            let principal = Principal(
                id: PrincipalID(principalID), provider: ProviderID(id), role: Role(role),
                displayName: entry["name"]?.stringValue ?? principalID,
                skills: entry["skills"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                queues: entry["queues"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            try await store.createPrincipal(principal)
            created.append((principal, try await store.issueEnrolmentCode(for: principal.id)))
        }
        return created
    }
}
