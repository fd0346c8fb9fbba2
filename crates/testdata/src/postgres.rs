//! A real PostgreSQL for tests: the server `scripts/postgres.sh` starts
//! (its URL in `MODELGATE_TEST_DATABASE_URL`, which `scripts/test.sh`
//! sets), and a fresh schema or database per test on it, so tests running
//! at once never see each other's rows.

use std::path::Path;

/// The test server's URL, or `None` when none was given (the caller runs
/// on SQLite only). With `MODELGATE_REQUIRE_POSTGRES` set, a missing URL
/// fails the test instead.
pub fn server_url() -> Option<String> {
    match std::env::var("MODELGATE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("MODELGATE_REQUIRE_POSTGRES").is_none(),
                "MODELGATE_TEST_DATABASE_URL is not set; `scripts/postgres.sh start` prints it"
            );
            None
        }
    }
}

/// With `MODELGATE_TEST_BACKEND=postgres` (`scripts/test.sh` runs the
/// store's users' suites a second time so), the URL of a schema on the test
/// server for the data directory `home`, the same for the same `home`;
/// else `None`: the test uses the SQLite file in `home`.
pub fn backend_for(home: &Path) -> Option<String> {
    if std::env::var("MODELGATE_TEST_BACKEND").ok()? != "postgres" {
        return None;
    }
    let base =
        server_url().expect("MODELGATE_TEST_BACKEND=postgres needs MODELGATE_TEST_DATABASE_URL");
    Some(schema_for(&base, home))
}

/// A schema on the server at `base` named after `dir` (the same directory
/// always gets the same schema, so a test can open its store again),
/// created if missing; returns a URL whose connections use it.
pub fn schema_for(base: &str, dir: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
    }
    let schema = format!("t_{hash:016x}");
    execute(base, &format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
    with_option(base, &format!("options=-c%20search_path%3D{schema}"))
}

/// A new, empty database on the server at `base`; returns its URL.
pub fn fresh_database(base: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "t_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    execute(base, &format!("CREATE DATABASE {name}"));
    let (prefix, query) = match base.split_once('?') {
        Some((prefix, query)) => (prefix, format!("?{query}")),
        None => (base, String::new()),
    };
    let server = prefix.rsplit_once('/').map_or(prefix, |(server, _)| server);
    format!("{server}/{name}{query}")
}

/// Run `sql` on the server at `url`, on a thread of its own (the
/// `postgres` client blocks on a runtime of its own, which cannot start
/// inside an async test's).
fn execute(url: &str, sql: &str) {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                postgres::Client::connect(url, postgres::NoTls)
                    .and_then(|mut client| client.batch_execute(sql))
                    .unwrap_or_else(|e| panic!("{sql} on the test PostgreSQL {url}: {e}"));
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
}

fn with_option(url: &str, option: &str) -> String {
    if url.contains('?') {
        format!("{url}&{option}")
    } else {
        format!("{url}?{option}")
    }
}

/// The test server's TLS material (`scripts/postgres.sh tls`, in
/// `MODELGATE_TEST_DATABASE_TLS`, which `scripts/test.sh` sets): `ca.pem`
/// signed `server.pem` (for `localhost` only) and `client.pem` (for the
/// role `modelgate_cert`); `other-ca.pem` signed nothing the server has.
/// `None` when not given, unless `MODELGATE_REQUIRE_POSTGRES` is set.
pub fn tls_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("MODELGATE_TEST_DATABASE_TLS") {
        Some(dir) if !dir.is_empty() => Some(dir.into()),
        _ => {
            assert!(
                std::env::var_os("MODELGATE_REQUIRE_POSTGRES").is_none(),
                "MODELGATE_TEST_DATABASE_TLS is not set; `scripts/postgres.sh tls` prints it"
            );
            None
        }
    }
}
