// A load generator, one process of many (`server-bench` starts them). Reads its job as JSON on
// stdin, prints its figures as JSON on stdout.
//
// Jobs:
//   push  {"server","sessions":[{replica,principal,provider,role,refresh,access}],"cases":[ids],"seconds","inFlight","seed"}
//   pull  {"server","sessions":[one],"limit"}
//   live  {"server","sessions":[...],"until": epoch millis}   -> notices received with their times
//   pusher {"server","sessions":[one],"cases","rate","seconds"} -> seq and send time of each set
//   idle  {"server","sessions":[...],"holdSeconds"}            -> how many connected
import AsyncHTTPClient
import BenchSupport
import ConciergeClient
import ConciergeCore
import Foundation

func now() -> Double { Date().timeIntervalSince1970 }

func session(_ value: Value, server: URL) -> Session {
    Session(
        server: server, replica: ReplicaID(value["replica"]!.stringValue!)!,
        principal: PrincipalID(value["principal"]!.stringValue!),
        provider: ProviderID(value["provider"]!.stringValue!), role: Role(value["role"]!.stringValue!),
        refreshToken: value["refresh"]!.stringValue!, accessToken: value["access"]!.stringValue!)
}

let input = try CanonicalJSON.decode(FileHandle.standardInput.readDataToEndOfFile())
let job = input["job"]!.stringValue!
let server = URL(string: input["server"]!.stringValue!)!
let sessions = input["sessions"]!.arrayValue!.map { session($0, server: server) }
var output: [String: Value] = [:]

switch job {
case "push":
    let cases = input["cases"]!.arrayValue!.compactMap(\.stringValue)
    let seconds = Double(input["seconds"]!.intValue!)
    let inFlight = Int(input["inFlight"]!.intValue!)
    let seed = UInt64(input["seed"]!.intValue!)
    let deadline = now() + seconds
    // One connection per pushing device, as phones each hold their own: the client's default
    // pool holds at most 8 per host, which would queue the other devices' batches in this process.
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = inFlight
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    let tally = try await withThrowingTaskGroup(of: PushTally.self) { group in
        for (index, session) in sessions.prefix(inFlight).enumerated() {
            group.addTask {
                let transport = HTTPSyncTransport(session: session, client: client)
                var maker = SetMaker(
                    replica: session.replica, author: session.author, random: SplitMix64(seed: seed &+ UInt64(index)))
                var tally = PushTally()
                while now() < deadline {
                    let batch = (0..<100).map { _ in maker.make(cases: cases) }
                    let sent = now()
                    let response = try await transport.push(PushRequest(changeSets: batch))
                    tally.count(batch, response.outcomes, milliseconds: (now() - sent) * 1000)
                }
                return tally
            }
        }
        var total = PushTally()
        for try await tally in group { total.add(tally) }
        return total
    }
    try await client.shutdown()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpu =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    output = [
        "writes": .int(Int64(tally.writes)), "rejected": .int(Int64(tally.rejected)), "cpu": .string(String(cpu)),
        "milliseconds": .array(tally.milliseconds.map { .string(String($0)) }),
    ]

case "pull":
    let transport = HTTPSyncTransport(session: sessions[0])
    let limit = Int(input["limit"]!.intValue!)
    var cursor = input["cursor"]?.stringValue.flatMap(Cursor.init)
    var token: String?
    var sets = 0
    var bytes = 0
    let start = now()
    while true {
        let response = try await transport.pull(PullRequest(cursor: cursor, limit: limit, snapshot: token))
        bytes += CanonicalJSON.encode(response.value).count
        switch response {
        case .page(let page):
            token = nil
            sets += page.events.count
            cursor = page.cursor
            if !page.hasMore { break }
            continue
        case .reset(let snapshot):
            // Records decoded and images alike; the next page of the snapshot, then the log.
            sets += snapshot.count
            cursor = snapshot.cursor
            token = snapshot.more
            continue
        }
        break
    }
    output = ["events": .int(Int64(sets)), "seconds": .string(String(now() - start)), "bytes": .int(Int64(bytes))]

case "live", "idle":
    let until = Double(input["until"]!.intValue!) / 1000
    let received = try await withThrowingTaskGroup(of: [Value].self) { group in
        for session in sessions {
            group.addTask {
                var seen: [Value] = []
                let transport = HTTPSyncTransport(session: session)
                let stream = LiveConnection.notices(transport)
                let watchdog = Task { try await Task.sleep(for: .seconds(max(0, until - now()))) }
                let reader = Task {
                    var local: [Value] = []
                    for try await notice in stream {
                        if case .changed(let seq) = notice {
                            local.append(.array([.int(Int64(seq)), .string(String(now()))]))
                        }
                        if case .hello = notice { local.append("connected") }
                    }
                    return local
                }
                _ = try? await watchdog.value
                reader.cancel()
                seen = (try? await reader.value) ?? []
                return seen
            }
        }
        var all: [Value] = []
        for try await seen in group { all.append(.array(seen)) }
        return all
    }
    output = ["receivers": .array(received)]

case "pusher":
    let cases = input["cases"]!.arrayValue!.compactMap(\.stringValue)
    let rate = Double(input["rate"]!.intValue!)
    let seconds = Double(input["seconds"]!.intValue!)
    let transport = HTTPSyncTransport(session: sessions[0])
    var maker = SetMaker(replica: sessions[0].replica, author: sessions[0].author, random: SplitMix64(seed: 7))
    var sent: [Value] = []
    let start = now()
    var next = start
    while now() < start + seconds {
        let set = maker.make(cases: cases)
        let sentAt = now()
        let response = try await transport.push(PushRequest(changeSets: [set]))
        if let seq = response.outcomes.first?.position?.seq {
            sent.append(.array([.int(Int64(seq)), .string(String(sentAt))]))
        }
        next += 1 / rate
        let wait = next - now()
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }  // pacing the load, not synchronisation
    }
    output = ["sent": .array(sent)]

default:
    FileHandle.standardError.write(Data("unknown job \(job)\n".utf8))
    exit(2)
}
print(CanonicalJSON.string(.object(output)))
