/// An add-wins observed-remove set of strings.
///
/// `add(element)` is tagged by its stamp; `remove(element, observedTags)` removes exactly the tags
/// the remover had seen. **Rule**: an add the remover had not observed survives. A remove that
/// arrives before the add it observed is kept as a removed tag, so the add stays invisible when it
/// comes.
public struct ORSetState: Hashable, Sendable {
    /// Every add: tag to element.
    public private(set) var adds: [Stamp: String]
    /// Every removed tag.
    public private(set) var removed: Set<Stamp>

    public init(adds: [Stamp: String] = [:], removed: Set<Stamp> = []) {
        self.adds = adds
        self.removed = removed
    }

    /// Adds `element` tagged `tag`.
    /// - Throws: `stampReused` when `tag` already tags another element.
    public mutating func add(_ element: String, tag: Stamp) throws(MergeError) {
        if let existing = adds[tag] {
            guard existing == element else {
                throw MergeError(.stampReused, "stamp \(tag) tags two different elements")
            }
            return
        }
        adds[tag] = element
    }

    /// Removes the observed tags.
    public mutating func remove(observed tags: some Sequence<Stamp>) {
        removed.formUnion(tags)
    }

    /// Merges another state of the same set.
    public mutating func merge(_ other: ORSetState) throws(MergeError) {
        var copy = self
        for (tag, element) in other.adds { try copy.add(element, tag: tag) }
        copy.removed.formUnion(other.removed)
        self = copy
    }

    /// The live tags of `element`: what a remover observes.
    public func tags(of element: String) -> [Stamp] {
        adds.compactMap { tag, value in value == element && !removed.contains(tag) ? tag : nil }.sorted()
    }

    /// The visible elements, sorted by their UTF-8 bytes.
    public var elements: [String] {
        var visible = Set<String>()
        for (tag, element) in adds where !removed.contains(tag) { visible.insert(element) }
        return visible.sorted(by: utf8Precedes)
    }

    /// Whether `element` is visible.
    public func contains(_ element: String) -> Bool {
        adds.contains { tag, value in value == element && !removed.contains(tag) }
    }
}
