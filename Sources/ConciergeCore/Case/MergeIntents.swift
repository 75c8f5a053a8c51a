/// Merging and unmerging cases and customers (staff), with the checks the server makes, early.
extension Editor {
    /// Merges a case into another about the same problem: `mergedInto` on `serviceCase`, with who
    /// (the author) and why. Its entries stay where they are; views of `target` show them too.
    ///
    /// Both cases belong to one provider and one customer (or the case's customer was merged into
    /// the target's customer first).
    public mutating func merge(_ serviceCase: ServiceCase, into target: ServiceCase, reason: String?) throws {
        try requireStaff("merge cases")
        guard serviceCase.id != target.id else {
            throw CaseIntentError(.invalidMerge, "a case cannot merge into itself")
        }
        guard serviceCase.provider == target.provider else {
            throw CaseIntentError(.outOfScope, "the cases belong to different providers")
        }
        if let customer = serviceCase.customer, let other = target.customer, customer != other {
            let profile = try record(RecordKey(type: .profile, id: RecordID(customer.rawValue)))
            guard profile?.mergeMarker?.into.rawValue == other.rawValue else {
                throw CaseIntentError(
                    .invalidMerge,
                    "the cases belong to different customers (\(customer), \(other)); merge the customers first")
            }
        }
        try write(
            MergeMarker(into: target.id, reason: reason).value, to: MergeFields.mergedInto, of: serviceCase.record.key)
    }

    /// Merges a customer record into another of the same person: `mergedInto` on the customer's
    /// profile. Their cases stay theirs; staff read both customers as `survivor`.
    public mutating func mergeCustomer(_ customer: PrincipalID, into survivor: PrincipalID, reason: String?) throws {
        try requireStaff("merge customers")
        guard customer != survivor else {
            throw CaseIntentError(.invalidMerge, "a customer cannot merge into themselves")
        }
        try write(
            MergeMarker(into: RecordID(survivor.rawValue), reason: reason).value, to: MergeFields.mergedInto,
            of: RecordKey(type: .profile, id: RecordID(customer.rawValue)))
    }

    /// Undoes a merge of a case or a customer's profile: `mergedInto` becomes null (its history
    /// keeps the merge and who undid it).
    public mutating func unmerge(_ key: RecordKey) throws {
        try requireStaff("undo merges")
        guard try record(key)?.mergeMarker != nil else {
            throw CaseIntentError(.invalidMerge, "\(key.type) \(key.id) is not merged")
        }
        try write(.null, to: MergeFields.mergedInto, of: key)
    }

    /// Links two related cases without merging them (many customers hit by one outage): each
    /// names the other in `links` (staff; cases of one provider).
    public mutating func link(_ serviceCase: ServiceCase, _ other: ServiceCase) throws {
        try requireStaff("link cases")
        guard serviceCase.id != other.id else { throw CaseIntentError(.malformed, "a case is not linked to itself") }
        guard serviceCase.provider == other.provider else {
            throw CaseIntentError(.outOfScope, "the cases belong to different providers")
        }
        try add(other.id.rawValue, to: CaseFields.links, of: serviceCase.record.key)
        try add(serviceCase.id.rawValue, to: CaseFields.links, of: other.record.key)
    }

    /// Removes the link between two cases, both ways.
    public mutating func unlink(_ serviceCase: ServiceCase, _ other: ServiceCase) throws {
        try requireStaff("unlink cases")
        guard serviceCase.links.contains(other.id.rawValue) || other.links.contains(serviceCase.id.rawValue) else {
            throw CaseIntentError(.malformed, "the cases are not linked")
        }
        for (from, to) in [(serviceCase, other), (other, serviceCase)] where from.links.contains(to.id.rawValue) {
            try remove(to.id.rawValue, from: CaseFields.links, of: from.record.key)
        }
    }

    func requireStaff(_ action: String) throws {
        guard author.role.isStaff else {
            throw CaseIntentError(.forbiddenField, "only staff \(action); \(author.role.withArticle) cannot")
        }
    }
}
