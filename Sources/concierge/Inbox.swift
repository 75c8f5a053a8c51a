import ArgumentParser
import ConciergeCore
import ConciergeStore
import Foundation

/// The JSON shape of a case for `--json`.
enum CaseJSON {
    static func value(_ serviceCase: ServiceCase, account: Account, pending: Set<EntryID>, merges: MergedCases)
        -> Value
    {
        let survivor = merges.survivor(of: serviceCase.id)
        let conflicts: [Value] = serviceCase.conflicts.sorted(by: { $0.key < $1.key }).flatMap { field, groups in
            groups.map { group in
                Value.object([
                    "field": .string(field), "values": .array(group.writes.map(\.value)), "kept": group.kept.value,
                ])
            }
        }
        return .object([
            "id": .string(serviceCase.id.rawValue), "account": .string(account.label),
            "provider": .string(serviceCase.provider?.rawValue ?? ""),
            "subject": serviceCase.subject.map(Value.string) ?? .null,
            "status": .string(serviceCase.status.rawValue), "priority": serviceCase.priority.map(Value.string) ?? .null,
            "customer": serviceCase.customer.map { .string($0.rawValue) } ?? .null,
            "assignee": serviceCase.assignee.map { .string($0.rawValue) } ?? .null,
            "requiredSkill": serviceCase.requiredSkill.map(Value.string) ?? .null,
            "summary": serviceCase.summary.map(Value.string) ?? .null,
            "tags": .array(serviceCase.tags.map(Value.string)),
            "rating": serviceCase.rating.map(Value.int) ?? .null,
            "mergedInto": survivor == serviceCase.id ? .null : .string(survivor.rawValue),
            "merged": .array(merges.merged(into: serviceCase.id).map { .string($0.id.rawValue) }),
            "links": .array(serviceCase.links.map(Value.string)),
            "timeline": .array(
                merges.timeline(of: serviceCase.id).map { stored, entry in
                    let home = merges.cases[stored] ?? serviceCase
                    return .object([
                        "id": .string(entry.id.rawValue), "case": .string(stored.rawValue), "kind": .string(entry.kind),
                        "author": .string(entry.author.principal.rawValue), "role": .string(entry.author.role.rawValue),
                        "at": .int(Int64(entry.stamp.hlc.millis)), "channel": entry.payload["channel"] ?? .null,
                        "verified": .bool(home.isVerified(entry)),
                        "identity": home.identity(of: entry).map(Value.string) ?? .null,
                        "text": .string(describe(entry)),
                        "pending": .bool(pending.contains(entry.id)),
                    ])
                }),
            "conflicts": .array(conflicts),
        ])
    }
}

struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "All your cases at every provider, newest activity first, unread ones marked.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var output: JSONOption
    @Flag(help: "Leave out closed cases.") var open = false

    struct Row {
        let account: Account
        let serviceCase: ServiceCase
        let lastActivity: UInt64
        let unread: Bool
    }

    func run() async throws {
        var rows: [Row] = []
        for account in try home.home().accounts(home.account) {
            let marks = try account.file.readMarks()
            let cases = try account.replica.visibleRecords(of: .serviceCase).compactMap(ServiceCase.init)
            let merges = MergedCases(cases)
            for serviceCase in cases {
                // A merged case reads as its survivor, which the list shows.
                guard !merges.isMerged(serviceCase.id), !(open && serviceCase.status == .closed) else { continue }
                let timeline = merges.timeline(of: serviceCase.id).map(\.entry)
                let last = timeline.last
                let fromOthers = timeline.last { $0.author.principal != account.author.principal }
                let seen = marks[serviceCase.id].flatMap(UInt64.init) ?? 0
                let unread = fromOthers.map { $0.stamp.hlc.rawValue > seen } ?? false
                rows.append(
                    Row(
                        account: account, serviceCase: serviceCase, lastActivity: last?.stamp.hlc.millis ?? 0,
                        unread: unread))
            }
        }
        rows.sort { ($0.lastActivity, $0.serviceCase.id.rawValue) > ($1.lastActivity, $1.serviceCase.id.rawValue) }
        if output.json {
            return Output.json(
                .array(
                    rows.map { row in
                        .object([
                            "id": .string(row.serviceCase.id.rawValue), "account": .string(row.account.label),
                            "provider": .string(row.serviceCase.provider?.rawValue ?? ""),
                            "status": .string(row.serviceCase.status.rawValue),
                            "subject": row.serviceCase.subject.map(Value.string) ?? .null,
                            "lastActivity": .int(Int64(row.lastActivity)), "unread": .bool(row.unread),
                        ])
                    }))
        }
        if rows.isEmpty { return print("no cases yet") }
        Output.table(
            ["", "CASE", "PROVIDER", "STATUS", "LAST ACTIVITY", "SUBJECT"],
            rows.map { row in
                [
                    row.unread ? Output.styled("●", .cyan) : " ", String(row.serviceCase.id.rawValue.prefix(8)),
                    row.serviceCase.provider?.rawValue ?? "-", row.serviceCase.status.rawValue,
                    row.lastActivity == 0 ? "-" : Output.time(millis: row.lastActivity), row.serviceCase.subject ?? "-",
                ]
            })
    }
}
