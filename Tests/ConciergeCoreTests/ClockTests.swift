import ConciergeCore
import Foundation
import Testing

@Suite struct ClockTests {
    let a = ReplicaID("00000000-0000-4000-8000-00000000000a")!
    let b = ReplicaID("00000000-0000-4000-8000-00000000000b")!

    @Test func localEventsTakeTheWallClockOrCount() {
        var clock = HybridLogicalClock()
        #expect(clock.tick(wallMillis: 1000) == HLC(millis: 1000, counter: 0))
        #expect(clock.tick(wallMillis: 1000) == HLC(millis: 1000, counter: 1))
        #expect(clock.tick(wallMillis: 999) == HLC(millis: 1000, counter: 2))  // the wall went back
        #expect(clock.tick(wallMillis: 1001) == HLC(millis: 1001, counter: 0))
    }

    @Test func receivingAdvancesPastTheReceivedStamp() {
        var clock = HybridLogicalClock()
        _ = clock.tick(wallMillis: 1000)
        clock.receive(HLC(millis: 5000, counter: 7), wallMillis: 1000)
        #expect(clock.latest == HLC(millis: 5000, counter: 8))
        #expect(clock.tick(wallMillis: 1000) == HLC(millis: 5000, counter: 9))
    }

    @Test func counterOverflowCarriesIntoMilliseconds() {
        var clock = HybridLogicalClock(latest: HLC(millis: 1000, counter: .max))
        #expect(clock.tick(wallMillis: 1000) == HLC(millis: 1001, counter: 0))
    }

    @Test func stampsOrderByClockThenReplicaText() {
        let early = Stamp(hlc: HLC(millis: 1, counter: 0), replica: b)
        let lateA = Stamp(hlc: HLC(millis: 2, counter: 0), replica: a)
        let lateB = Stamp(hlc: HLC(millis: 2, counter: 0), replica: b)
        #expect(early < lateA)
        #expect(lateA < lateB)
        // Text order of the lower-case ids, byte by byte, equals the numeric order used.
        let ids = (0..<200).map { _ in ReplicaID.random() }
        #expect(ids.sorted().map(\.description) == ids.map(\.description).sorted())
    }

    @Test func replicaIDTextIsLowerCaseAndRoundTrips() {
        let id = ReplicaID("0F0E0D0C-0B0A-4908-8706-050403020100")!
        #expect(id.description == "0f0e0d0c-0b0a-4908-8706-050403020100")
        #expect(ReplicaID(id.description) == id)
        #expect(ReplicaID("not-a-uuid") == nil)
        for bad in [
            "0f0e0d0c0b0a-4908-8706-050403020100-", "0f0e0d0c-0b0a-4908-8706-0504030201000",
            "0f0e0d0c-0b0a-4908-8706-05040302010", "0f0e0d0c-0b0a-4908-8706-05040302010g", "",
        ] {
            #expect(ReplicaID(bad) == nil, "accepted \(bad)")
        }
        for _ in 0..<100 {
            let uuid = UUID()
            #expect(ReplicaID(uuid.uuidString)?.description == uuid.uuidString.lowercased())
            #expect(ReplicaID(uuid.uuidString)?.uuid == uuid)
        }
    }

    @Test func hlcTextHasNoLeadingZeros() {
        #expect(HLC("65536") == HLC(millis: 1))
        #expect(HLC("065536") == nil)
        #expect(HLC("-1") == nil)
        #expect(HLC("0") == HLC(rawValue: 0))
    }

    @Test func driftBoundRefusesStampsMoreThanSixtySecondsAhead() {
        let bound = DriftBound.default
        #expect(!bound.isTooFarAhead(HLC(millis: 160_000, counter: 9), serverMillis: 100_000))
        #expect(bound.isTooFarAhead(HLC(millis: 160_001), serverMillis: 100_000))
    }
}
