//! The schema's history, backend-free: every migration's number and name,
//! and its portable part (`migrations/portable/NNNN_name.sql`), SQL that
//! SQLite and PostgreSQL both run as written. What a backend must do its
//! own way has a file under `migrations/<backend>/` with the same number
//! and name, listed by that backend (`sqlite::open`); a migration may have
//! a portable part, backend parts, or both.

/// A migration: its number, name, and portable SQL (if any).
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) name: &'static str,
    pub(crate) portable: Option<&'static str>,
}

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "inventory",
        portable: Some(include_str!("../migrations/portable/0001_inventory.sql")),
    },
    Migration {
        version: 2,
        name: "append_only_events",
        portable: None,
    },
    Migration {
        version: 3,
        name: "stored_versions",
        portable: Some(include_str!(
            "../migrations/portable/0003_stored_versions.sql"
        )),
    },
    Migration {
        version: 4,
        name: "gateway",
        portable: Some(include_str!("../migrations/portable/0004_gateway.sql")),
    },
    Migration {
        version: 5,
        name: "eval_runs",
        portable: Some(include_str!("../migrations/portable/0005_eval_runs.sql")),
    },
    Migration {
        version: 6,
        name: "console",
        portable: Some(include_str!("../migrations/portable/0006_console.sql")),
    },
    Migration {
        version: 7,
        name: "console_sessions",
        portable: Some(include_str!(
            "../migrations/portable/0007_console_sessions.sql"
        )),
    },
    Migration {
        version: 8,
        name: "bytewise_text",
        portable: None,
    },
    Migration {
        version: 9,
        name: "console_login_attempts",
        portable: Some(include_str!(
            "../migrations/portable/0009_console_login_attempts.sql"
        )),
    },
];

/// The newest schema this build knows.
pub const SCHEMA_VERSION: u32 = 9;

/// The names of the `.sql` files in `migrations/<folder>`, sorted (for the
/// tests that check each backend lists its files).
#[cfg(test)]
pub(crate) fn migration_files(folder: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    files
}

/// `NNNN_name.sql`.
#[cfg(test)]
pub(crate) fn file_name(migration: &Migration) -> String {
    format!("{:04}_{}.sql", migration.version, migration.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_the_portable_files_listed() {
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<u32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .filter(|m| m.portable.is_some())
            .map(file_name)
            .collect();
        assert_eq!(migration_files("portable"), listed);
    }

    /// `sql` with the text of its string literals removed (`'restricted'`
    /// is a value, not the `STRICT` table option).
    fn without_string_literals(sql: &str) -> String {
        sql.split('\'').step_by(2).collect::<Vec<_>>().join("''")
    }

    #[test]
    fn string_literals_are_not_code() {
        assert_eq!(
            without_string_literals("CHECK (c IN ('strict', 'x')) STRICT"),
            "CHECK (c IN ('', '')) STRICT"
        );
    }

    /// Portable means neither backend's dialect: the constructs below are
    /// SQLite's (or PostgreSQL's) own and belong in a backend's folder.
    #[test]
    fn portable_migrations_use_no_backend_only_sql() {
        const BACKEND_ONLY: &[&str] = &[
            "TRIGGER",
            "RAISE(",
            "PRAGMA",
            "AUTOINCREMENT",
            "WITHOUT ROWID",
            "INTEGER PRIMARY KEY",
            "STRICT",
            "SERIAL",
            "JSONB",
            "TIMESTAMPTZ",
            "$$",
            "DATETIME(",
        ];
        for migration in MIGRATIONS {
            let Some(sql) = migration.portable else {
                continue;
            };
            let code: String = without_string_literals(
                &sql.lines()
                    .map(|line| line.split("--").next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
            .to_uppercase();
            for construct in BACKEND_ONLY {
                assert!(
                    !code.contains(construct),
                    "{} uses {construct}, which is not portable",
                    file_name(migration)
                );
            }
        }
    }
}
