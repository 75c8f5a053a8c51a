import ConciergeCore
import Foundation
import Testing

@testable import ConciergeServer

/// The enrolment and device rules alone (both engines apply them: `StoreContractTests` and the
/// enrolment tests run them through each).
@Suite struct DevicePolicyTests {
    @Test func aCodeIsSpendableOnceAndOnlyBeforeItExpires() {
        let issued = DevicePolicy.issueCode(lifetime: 60, now: 1_000)
        #expect(issued.expiresAt == 61_000)
        #expect(DevicePolicy.spendable(usedAt: nil, expiresAt: issued.expiresAt, now: 60_999))
        #expect(!DevicePolicy.spendable(usedAt: nil, expiresAt: issued.expiresAt, now: 61_000))
        #expect(!DevicePolicy.spendable(usedAt: 2_000, expiresAt: issued.expiresAt, now: 3_000))
    }

    @Test func aCodeIsFoundWhateverItsCaseAndNeverStoredItself() {
        let issued = DevicePolicy.issueCode(lifetime: 60, now: 0)
        #expect(DevicePolicy.lookupHash(ofPresented: issued.code.lowercased()) == issued.hash)
        #expect(issued.hash != Data(issued.code.utf8))
    }

    @Test func aNewDeviceHasAFreshReplicaAndStoresOnlyItsTokensHash() throws {
        let first = DevicePolicy.newDevice(named: String(repeating: "x", count: 300))
        let second = DevicePolicy.newDevice(named: "phone")
        #expect(first.name.count == DevicePolicy.nameLimit)
        #expect(first.replica != second.replica)
        #expect(try StoreSupport.replica(ofRefreshToken: first.refreshToken) == first.replica)
        #expect(first.refreshHash == StoreSupport.hash(first.refreshToken))
    }

    @Test func onlyItsOwnerOrAnAdministratorRevokesADeviceAndOthersLearnNothing() throws {
        try DevicePolicy.checkRevocation(storedOwner: "anna", by: "anna")
        try DevicePolicy.checkRevocation(storedOwner: "anna", by: nil)
        let other = #expect(throws: StoreError.self) {
            try DevicePolicy.checkRevocation(storedOwner: "anna", by: "ben")
        }
        let missing = #expect(throws: StoreError.self) { try DevicePolicy.checkRevocation(storedOwner: nil, by: "ben") }
        #expect(other?.code == .notFound)
        #expect(other?.message == missing?.message)
    }
}
