import ConciergeCore

// GRDB has types of these names too; inside the store they are the core's.
typealias Record = ConciergeCore.Record
typealias Cursor = ConciergeCore.Cursor
