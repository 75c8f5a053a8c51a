/// The record types of the service domain.
extension RecordType {
    public static let serviceCase = RecordType("case")
    public static let profile = RecordType("profile")
    public static let preferences = RecordType("preferences")
    public static let notice = RecordType("notice")
    public static let answer = RecordType("answer")
}

/// Field names of a service case and their declarations.
public enum CaseFields {
    public static let provider = "provider"
    public static let customer = "customer"
    public static let subject = "subject"
    public static let category = "category"
    public static let requiredSkill = "requiredSkill"
    public static let queue = "queue"
    public static let priority = "priority"
    public static let assignee = "assignee"
    public static let originChannel = "originChannel"
    public static let slaDue = "slaDue"
    /// "What we know so far", so the next agent reads instead of asking.
    public static let summary = "summary"
    public static let tags = "tags"
    public static let watchers = "watchers"
    public static let links = "links"
    public static let rating = "rating"
    public static let timeline = "timeline"

    public static let schema = RecordSchema(
        type: .serviceCase,
        fields: [
            provider: .register,
            customer: .register,
            subject: .personalRegister,
            category: .historyRegister,
            requiredSkill: .historyRegister,
            queue: .register,
            priority: .historyRegister,
            assignee: .historyRegister,
            originChannel: .register,
            slaDue: .register,
            summary: FieldDeclaration(kind: .register, history: true, personal: true),
            tags: .set,
            watchers: .set,
            links: .set,
            rating: .register,
            timeline: .log,
            MergeFields.mergedInto: .historyRegister,
        ])
}

/// Field names of a customer's profile (id: the customer's principal id).
public enum ProfileFields {
    public static let provider = "provider"
    public static let displayName = "displayName"
    public static let email = "email"
    public static let phone = "phone"
    public static let address = "address"

    public static let schema = RecordSchema(
        type: .profile,
        fields: [
            provider: .register,
            displayName: .personalRegister,
            email: .personalRegister,
            phone: .personalRegister,
            address: .personalRegister,
            MergeFields.mergedInto: .historyRegister,
        ])
}

/// Field names of a customer's contact preferences (id: the customer's principal id).
public enum PreferenceFields {
    /// The channels the customer may be contacted on (a set of ``Channel`` raw values).
    public static let allowedChannels = "allowedChannels"
    public static let preferredChannel = "preferredChannel"
    /// `{"start": minuteOfDay, "end": minuteOfDay}` in the customer's local time, or null.
    public static let quietHours = "quietHours"
    /// The customer's time zone, an IANA identifier (`Europe/Berlin`): quiet hours are in it,
    /// daylight saving included.
    public static let timeZone = "timeZone"
    /// Minutes east of UTC of the customer's local time: read only when no ``timeZone`` is set
    /// (written by clients before time zones).
    public static let utcOffsetMinutes = "utcOffsetMinutes"
    /// Purposes the customer consented to (a set of ``ContactPurpose`` raw values): read for a
    /// purpose only while ``consentLog`` has no entry for it (written by clients before the log).
    public static let consents = "consents"
    /// Consent given and withdrawn, per purpose and optionally per channel, with when, how and on
    /// which legal basis (`consent` entries: ``ConsentEntry``); the latest entry that applies wins.
    public static let consentLog = "consentLog"

    public static let schema = RecordSchema(
        type: .preferences,
        fields: [
            allowedChannels: .set,
            preferredChannel: .register,
            quietHours: .register,
            timeZone: .register,
            utcOffsetMinutes: .register,
            consents: .set,
            consentLog: .log,
        ])
}

/// Field names of a provider notice (an outage, a recall) shown to its customers.
public enum NoticeFields {
    public static let provider = "provider"
    public static let title = "title"
    public static let body = "body"
    public static let audience = "audience"

    public static let schema = RecordSchema(
        type: .notice,
        fields: [
            provider: .register, title: .register, body: .register, audience: .set,
        ])
}

/// Field names of a public answer (a published reply every customer may read).
public enum AnswerFields {
    public static let provider = "provider"
    public static let question = "question"
    public static let body = "body"
    public static let sourceCase = "sourceCase"

    public static let schema = RecordSchema(
        type: .answer,
        fields: [
            provider: .register, question: .register, body: .register, sourceCase: .register,
        ])
}
