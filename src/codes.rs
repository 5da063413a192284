//! Every error code a user can meet, in one list: the constants the code raises with, and [`ALL`],
//! which says who produces each one and what it means. The docs and the TypeScript types are checked
//! against [`ALL`] by a test, so a code added here without them (or there without this) fails the build.

/// Who raises a code. A replica's codes reach JS through `OutpostError.code`; the primary's travel in
/// an error body (or a push rejection) and reach JS unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    /// The Rust core: the local database and the sync engine.
    Replica,
    /// The package's own JavaScript (Worker proxy, tab sharing, sync loop).
    Package,
    /// `outpost-primary`.
    Primary,
}

/// One registered code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub name: &'static str,
    pub producers: &'static [Producer],
    pub meaning: &'static str,
}

impl Code {
    pub fn produced_by(&self, producer: Producer) -> bool {
        self.producers.contains(&producer)
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident [$($producer:ident),+] $meaning:literal;)+) => {
        $($(#[$doc])* pub const $name: &str = stringify!($name);)+

        /// Every code except SQLite's own (those are named by [`sqlite_name`]).
        pub const ALL: &[Code] = &[
            $(Code {
                name: $name,
                producers: &[$(Producer::$producer),+],
                meaning: $meaning,
            },)+
        ];
    };
}

codes! {
    BAD_OPTIONS [Replica, Package] "the options of open() or of sync are invalid";
    BAD_PARAMS [Replica, Package] "the parameters do not fit the statement, or a value is not a SQL value";
    DATABASE_CLOSED [Replica, Package] "the database was closed";
    DATABASE_IN_USE [Replica, Package] "something outside this package's tab sharing holds the OPFS files";
    OPFS_UNAVAILABLE [Replica, Package] "OPFS was asked for but this context has none";
    STORAGE_FULL [Replica] "the device's storage quota is used up";
    MIGRATION_FAILED [Replica, Primary] "a migration's SQL failed; nothing of it was applied";
    MIGRATION_CHANGED [Replica, Primary] "an already-applied migration was edited or removed";
    OFFLINE [Replica] "the primary could not be reached, or a proxy answered for it; writes wait in the outbox";
    PROTOCOL_ERROR [Replica] "the primary answered something this version does not understand";
    TRANSACTION_OPEN [Replica] "sync waits: the app's own transaction is open on this database";
    TRANSACTION_STATEMENT [Replica] "BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE sent as a statement; use transaction()";
    MUTATION_TOO_LARGE [Replica] "one write is larger than a push may carry; it was set aside, and its row put back";
    SCHEMA_CHANGED [Replica] "a write made before a migration of this app changed its table's key or stopped syncing the table; it was set aside unsent, its content kept";
    REPLICA_RESTORED [Replica] "this replica's file was restored from an older copy or is open on two devices; the write may or may not have reached the primary";
    HOLDER_CHANGED [Package] "the tab holding the database went away before answering; the call may or may not have been applied";
    WORKER_FAILED [Package] "the database's Worker could not start or crashed";
    SYNC_NOT_CONFIGURED [Package] "sync() on a database opened without sync options";
    SYNC_FAILED [Package] "a sync round failed with an error that carries no code of its own (e.g. the token callback threw)";
    BAD_REQUEST [Primary] "the body is not JSON, has the wrong shape, or breaks a protocol rule";
    UNSUPPORTED_VERSION [Primary] "the request's protocol version is not one the primary speaks";
    BAD_NAME [Primary] "a table or column name is not a valid name";
    BAD_DATABASE_NAME [Primary] "the database name in the path is not a valid name";
    UNKNOWN_TABLE [Primary] "the table is not a synced table of this database";
    UNKNOWN_COLUMN [Primary] "a mutation names a column the table does not have";
    BAD_KEY [Primary] "a mutation's key has the wrong length or a value that is not INTEGER or TEXT";
    SCHEMA_AHEAD [Primary] "the replica writes a table or column the primary does not have yet; the writes wait, in order, until it does";
    UPGRADE_REQUIRED [Primary] "the primary's migrations need a newer app: the replica's schema version is below their minimum; nothing was applied, and its writes wait";
    NOT_PERMITTED [Primary] "the primary's sync rules do not allow this write for this token; the row is put back as the replica may see it";
    KEY_EXISTS [Primary] "an insert names a key the table already has: another replica made that row";
    READ_ONLY [Primary] "a query would write";
    QUERY_DISABLED [Primary] "queries are off for this store, since one could read another database";
    UNAUTHORIZED [Primary] "the token is missing, malformed, wrongly signed or expired";
    FORBIDDEN [Primary] "the token opens another database";
    UNKNOWN_DATABASE [Primary] "the database is not in the primary's allow-list";
    NOT_FOUND [Primary] "no such endpoint";
    METHOD_NOT_ALLOWED [Primary] "the endpoint exists but not for this HTTP method";
    BATCH_TOO_LARGE [Primary] "too many mutations in one push, or a body over the size limit";
    INTERNAL [Primary] "the primary itself failed; the request may be retried";
}

/// The registered code called `name`, if any.
pub fn lookup(name: &str) -> Option<&'static Code> {
    ALL.iter().find(|code| code.name == name)
}

/// The SQLite codes the primary and the core name explicitly (the rest come from [`sqlite_name`]).
pub const SQLITE_ERROR: &str = "SQLITE_ERROR";
pub const SQLITE_AUTH: &str = "SQLITE_AUTH";
pub const SQLITE_MISMATCH: &str = "SQLITE_MISMATCH";
pub const SQLITE_CONSTRAINT: &str = "SQLITE_CONSTRAINT";
pub const SQLITE_CONSTRAINT_CHECK: &str = "SQLITE_CONSTRAINT_CHECK";
pub const SQLITE_CONSTRAINT_FOREIGNKEY: &str = "SQLITE_CONSTRAINT_FOREIGNKEY";
pub const SQLITE_CONSTRAINT_NOTNULL: &str = "SQLITE_CONSTRAINT_NOTNULL";
pub const SQLITE_CONSTRAINT_PRIMARYKEY: &str = "SQLITE_CONSTRAINT_PRIMARYKEY";
pub const SQLITE_CONSTRAINT_ROWID: &str = "SQLITE_CONSTRAINT_ROWID";
pub const SQLITE_CONSTRAINT_TRIGGER: &str = "SQLITE_CONSTRAINT_TRIGGER";
pub const SQLITE_CONSTRAINT_UNIQUE: &str = "SQLITE_CONSTRAINT_UNIQUE";

/// SQLite's name for a result code, primary or extended: 2067 -> `SQLITE_CONSTRAINT_UNIQUE`.
/// An extended code newer than this table is named by its primary code (its low byte), so a code
/// is always one of SQLite's own names. `SQLITE_ROW` and `SQLITE_DONE` are not errors and never
/// reach here; anything outside SQLite's codes reads as the generic `SQLITE_ERROR`.
pub fn sqlite_name(code: i32) -> &'static str {
    let find = |code: i32| {
        SQLITE_NAMES
            .binary_search_by_key(&code, |&(number, _)| number)
            .ok()
            .map(|at| SQLITE_NAMES[at].1)
    };
    find(code)
        .or_else(|| find(code & 0xff))
        .unwrap_or(SQLITE_ERROR)
}

/// SQLite's result codes (1 to 28) and extended result codes, by number, as in `sqlite3.h`.
pub const SQLITE_NAMES: &[(i32, &str)] = &[
    (1, "SQLITE_ERROR"),
    (2, "SQLITE_INTERNAL"),
    (3, "SQLITE_PERM"),
    (4, "SQLITE_ABORT"),
    (5, "SQLITE_BUSY"),
    (6, "SQLITE_LOCKED"),
    (7, "SQLITE_NOMEM"),
    (8, "SQLITE_READONLY"),
    (9, "SQLITE_INTERRUPT"),
    (10, "SQLITE_IOERR"),
    (11, "SQLITE_CORRUPT"),
    (12, "SQLITE_NOTFOUND"),
    (13, "SQLITE_FULL"),
    (14, "SQLITE_CANTOPEN"),
    (15, "SQLITE_PROTOCOL"),
    (16, "SQLITE_EMPTY"),
    (17, "SQLITE_SCHEMA"),
    (18, "SQLITE_TOOBIG"),
    (19, "SQLITE_CONSTRAINT"),
    (20, "SQLITE_MISMATCH"),
    (21, "SQLITE_MISUSE"),
    (22, "SQLITE_NOLFS"),
    (23, "SQLITE_AUTH"),
    (24, "SQLITE_FORMAT"),
    (25, "SQLITE_RANGE"),
    (26, "SQLITE_NOTADB"),
    (27, "SQLITE_NOTICE"),
    (28, "SQLITE_WARNING"),
    (257, "SQLITE_ERROR_MISSING_COLLSEQ"),
    (261, "SQLITE_BUSY_RECOVERY"),
    (262, "SQLITE_LOCKED_SHAREDCACHE"),
    (264, "SQLITE_READONLY_RECOVERY"),
    (266, "SQLITE_IOERR_READ"),
    (267, "SQLITE_CORRUPT_VTAB"),
    (270, "SQLITE_CANTOPEN_NOTEMPDIR"),
    (275, "SQLITE_CONSTRAINT_CHECK"),
    (279, "SQLITE_AUTH_USER"),
    (283, "SQLITE_NOTICE_RECOVER_WAL"),
    (284, "SQLITE_WARNING_AUTOINDEX"),
    (513, "SQLITE_ERROR_RETRY"),
    (516, "SQLITE_ABORT_ROLLBACK"),
    (517, "SQLITE_BUSY_SNAPSHOT"),
    (518, "SQLITE_LOCKED_VTAB"),
    (520, "SQLITE_READONLY_CANTLOCK"),
    (522, "SQLITE_IOERR_SHORT_READ"),
    (523, "SQLITE_CORRUPT_SEQUENCE"),
    (526, "SQLITE_CANTOPEN_ISDIR"),
    (531, "SQLITE_CONSTRAINT_COMMITHOOK"),
    (539, "SQLITE_NOTICE_RECOVER_ROLLBACK"),
    (769, "SQLITE_ERROR_SNAPSHOT"),
    (773, "SQLITE_BUSY_TIMEOUT"),
    (776, "SQLITE_READONLY_ROLLBACK"),
    (778, "SQLITE_IOERR_WRITE"),
    (779, "SQLITE_CORRUPT_INDEX"),
    (782, "SQLITE_CANTOPEN_FULLPATH"),
    (787, "SQLITE_CONSTRAINT_FOREIGNKEY"),
    (1032, "SQLITE_READONLY_DBMOVED"),
    (1034, "SQLITE_IOERR_FSYNC"),
    (1038, "SQLITE_CANTOPEN_CONVPATH"),
    (1043, "SQLITE_CONSTRAINT_FUNCTION"),
    (1288, "SQLITE_READONLY_CANTINIT"),
    (1290, "SQLITE_IOERR_DIR_FSYNC"),
    (1294, "SQLITE_CANTOPEN_DIRTYWAL"),
    (1299, "SQLITE_CONSTRAINT_NOTNULL"),
    (1544, "SQLITE_READONLY_DIRECTORY"),
    (1546, "SQLITE_IOERR_TRUNCATE"),
    (1550, "SQLITE_CANTOPEN_SYMLINK"),
    (1555, "SQLITE_CONSTRAINT_PRIMARYKEY"),
    (1802, "SQLITE_IOERR_FSTAT"),
    (1811, "SQLITE_CONSTRAINT_TRIGGER"),
    (2058, "SQLITE_IOERR_UNLOCK"),
    (2067, "SQLITE_CONSTRAINT_UNIQUE"),
    (2314, "SQLITE_IOERR_RDLOCK"),
    (2323, "SQLITE_CONSTRAINT_VTAB"),
    (2570, "SQLITE_IOERR_DELETE"),
    (2579, "SQLITE_CONSTRAINT_ROWID"),
    (2826, "SQLITE_IOERR_BLOCKED"),
    (2835, "SQLITE_CONSTRAINT_PINNED"),
    (3082, "SQLITE_IOERR_NOMEM"),
    (3091, "SQLITE_CONSTRAINT_DATATYPE"),
    (3338, "SQLITE_IOERR_ACCESS"),
    (3594, "SQLITE_IOERR_CHECKRESERVEDLOCK"),
    (3850, "SQLITE_IOERR_LOCK"),
    (4106, "SQLITE_IOERR_CLOSE"),
    (4362, "SQLITE_IOERR_DIR_CLOSE"),
    (4618, "SQLITE_IOERR_SHMOPEN"),
    (4874, "SQLITE_IOERR_SHMSIZE"),
    (5130, "SQLITE_IOERR_SHMLOCK"),
    (5386, "SQLITE_IOERR_SHMMAP"),
    (5642, "SQLITE_IOERR_SEEK"),
    (5898, "SQLITE_IOERR_DELETE_NOENT"),
    (6154, "SQLITE_IOERR_MMAP"),
    (6410, "SQLITE_IOERR_GETTEMPPATH"),
    (6666, "SQLITE_IOERR_CONVPATH"),
    (6922, "SQLITE_IOERR_VNODE"),
    (7178, "SQLITE_IOERR_AUTH"),
    (7434, "SQLITE_IOERR_BEGIN_ATOMIC"),
    (7690, "SQLITE_IOERR_COMMIT_ATOMIC"),
    (7946, "SQLITE_IOERR_ROLLBACK_ATOMIC"),
    (8202, "SQLITE_IOERR_DATA"),
    (8458, "SQLITE_IOERR_CORRUPTFS"),
    (8714, "SQLITE_IOERR_IN_PAGE"),
];
