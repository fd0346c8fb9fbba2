//! Who is signed in: password hashing (argon2id), sessions with idle
//! expiry, the CSRF token each session's forms carry, and a limit on failed
//! sign-ins per user name and per address.
//!
//! Sessions are kept in the inventory (`console_sessions`, the SHA-256 of
//! each id only), so every replica of a server behind a load balancer
//! knows them and a restart signs nobody out. A session remembers only the
//! user's name; the role and whether the user is disabled are read from the
//! inventory on every request, so a change made there takes effect at once.
//! Sign-in attempts are counted there too, so the limit on failures holds
//! across replicas.

use std::net::IpAddr;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use subtle::ConstantTimeEq;

use modelgate_inventory::Store;

use crate::Error;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mg_session";

/// The cookie that carries the sign-in form's CSRF token (double submit:
/// there is no session yet to hold it).
pub const LOGIN_CSRF_COOKIE: &str = "mg_login_csrf";

/// Shortest password `users add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest password hashed (argon2 takes any length; a cap keeps a
/// sign-in request from costing more than a normal one).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Failed sign-ins allowed per user name, and per address, in
/// [`LOGIN_WINDOW`].
pub const MAX_FAILED_LOGINS: usize = 5;

/// The window the failed sign-ins are counted over.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Longest part of a user name a failed sign-in is counted under.
const MAX_COUNTED_NAME_BYTES: usize = 256;

/// Hash a password for storing: argon2id with the crate's default
/// parameters (19 MiB, 2 passes) and a random 16-byte salt, as a PHC
/// string. Refuses passwords shorter than [`MIN_PASSWORD_CHARS`].
pub fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::WeakPassword {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::LongPassword {
            max: MAX_PASSWORD_BYTES,
        });
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Random {
        reason: e.to_string(),
    })?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash {
        reason: e.to_string(),
    })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Hash {
            reason: e.to_string(),
        })
}

/// Whether `password` matches the stored PHC string. A malformed hash
/// matches nothing.
pub fn verify_password(stored: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// A hash to verify against when the user does not exist, so that an
/// unknown name costs as much time as a wrong password.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password("decoy password that matches nothing").unwrap_or_else(|_| {
            // Only a failing random source gets here; verify then fails
            // fast on the malformed hash, which is still a refusal.
            String::new()
        })
    })
}

/// 32 random bytes as lower-case hex: session ids and CSRF tokens.
pub(crate) fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random {
        reason: e.to_string(),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compare two tokens in constant time.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) csrf: String,
}

/// How sessions expire; the sessions themselves are in the inventory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sessions {
    idle: Duration,
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Sessions {
    pub(crate) fn new(idle: Duration) -> Sessions {
        Sessions { idle }
    }

    fn idle_ms(&self) -> u64 {
        u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX)
    }

    /// A new session's id (the cookie's value) and CSRF token.
    pub(crate) fn new_ids() -> Result<(String, String), Error> {
        Ok((random_token()?, random_token()?))
    }

    /// Records a session for `user` with the ids from [`Sessions::new_ids`],
    /// ending idle ones first.
    pub(crate) fn start(
        &self,
        store: &Store,
        id: &str,
        csrf: &str,
        user: &str,
    ) -> Result<Session, modelgate_inventory::Error> {
        let now = now_ms();
        store.start_session(id, user, csrf, now, now.saturating_sub(self.idle_ms()))?;
        Ok(Session {
            user: user.to_string(),
            csrf: csrf.to_string(),
        })
    }

    /// The live session with this id, touched; an idle one is ended. The
    /// last-seen time is written at most every minute (a tenth of the idle
    /// time when that is shorter), not on every request.
    pub(crate) fn get(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<Session>, modelgate_inventory::Error> {
        let Some(found) = store.session(id)? else {
            return Ok(None);
        };
        let now = now_ms();
        let idle_for = now.saturating_sub(found.last_seen_ms);
        if idle_for >= self.idle_ms() {
            store.end_session(id)?;
            return Ok(None);
        }
        if idle_for >= (self.idle_ms() / 10).min(60_000) {
            store.touch_session(id, now)?;
        }
        Ok(Some(Session {
            user: found.user,
            csrf: found.csrf,
        }))
    }

    /// Ends a session.
    pub(crate) fn end(&self, store: &Store, id: &str) -> Result<(), modelgate_inventory::Error> {
        store.end_session(id)
    }
}

// Sign-in attempts are counted in the inventory against the user name and
// the address (`console_login_attempts`), so every replica on one database
// counts the same ones: [`MAX_FAILED_LOGINS`] per name, and per address, in
// [`LOGIN_WINDOW`].

/// What a sign-in as `user` is counted against by name. A name longer than
/// any user's still counts, under its first bytes.
fn user_subject(user: &str) -> String {
    let mut end = user.len().min(MAX_COUNTED_NAME_BYTES);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    format!("user:{}", user.get(..end).unwrap_or_default())
}

/// Count an attempt to sign in as `user` from `address`, before its
/// password is checked; `None` when the name or the address already has
/// [`MAX_FAILED_LOGINS`] in the window (then nothing is counted). The id
/// returned goes to [`login_succeeded`] if the password is right.
pub(crate) fn begin_login(
    store: &mut Store,
    user: &str,
    address: Option<IpAddr>,
) -> Result<Option<String>, modelgate_inventory::Error> {
    let by_name = user_subject(user);
    let by_address = address.map(|ip| format!("ip:{ip}"));
    let subjects: Vec<&str> = std::iter::once(by_name.as_str())
        .chain(by_address.as_deref())
        .collect();
    let window = u64::try_from(LOGIN_WINDOW.as_millis()).unwrap_or(u64::MAX);
    store.begin_login_attempt(&subjects, now_ms(), window, MAX_FAILED_LOGINS as u64)
}

/// The attempt succeeded: it does not count, nor do the user's earlier
/// failures (the address's stay).
pub(crate) fn login_succeeded(
    store: &Store,
    attempt: &str,
    user: &str,
) -> Result<(), modelgate_inventory::Error> {
    store.login_succeeded(attempt, &user_subject(user))
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
        assert!(matches!(
            hash_password("short"),
            Err(Error::WeakPassword { .. })
        ));
        assert!(!verify_password(decoy_hash(), "anything at all here"));
    }

    #[test]
    fn sessions_expire_when_idle_and_end() {
        let home = tempfile::tempdir().unwrap();
        let mut store = Store::open(home.path()).unwrap();
        store
            .add_user(
                &modelgate_inventory::NewUser {
                    name: "vic".into(),
                    role: modelgate_inventory::Role::Viewer,
                    password_hash: hash_password("a long enough passphrase").unwrap(),
                },
                "test",
            )
            .unwrap();
        let (id, csrf) = Sessions::new_ids().unwrap();
        Sessions::new(Duration::from_millis(0))
            .start(&store, &id, &csrf, "vic")
            .unwrap();
        let expired = Sessions::new(Duration::from_millis(0));
        assert!(
            expired.get(&store, &id).unwrap().is_none(),
            "zero idle time: expired"
        );
        assert!(
            store.session(&id).unwrap().is_none(),
            "an expired session is deleted"
        );

        let sessions = Sessions::new(Duration::from_secs(60));
        let (id, csrf) = Sessions::new_ids().unwrap();
        let session = sessions.start(&store, &id, &csrf, "vic").unwrap();
        assert_eq!(
            sessions.get(&store, &id).unwrap().unwrap().csrf,
            session.csrf
        );
        assert_eq!(id.len(), 64);
        // Another process over the same inventory (a replica) knows it.
        let replica = Store::open(home.path()).unwrap();
        assert_eq!(sessions.get(&replica, &id).unwrap().unwrap().user, "vic");
        sessions.end(&replica, &id).unwrap();
        assert!(sessions.get(&store, &id).unwrap().is_none());
    }

    #[test]
    fn failed_logins_are_limited_per_user_and_address_on_every_replica() {
        let home = tempfile::tempdir().unwrap();
        let mut store = Store::open(home.path()).unwrap();
        // Another process over the same inventory, as a replica is.
        let mut replica = Store::open(home.path()).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let elsewhere: IpAddr = "10.0.0.1".parse().unwrap();
        // Failures spread over the two count together.
        for n in 0..MAX_FAILED_LOGINS {
            let on = if n % 2 == 0 { &mut store } else { &mut replica };
            assert!(begin_login(on, "vic", Some(ip)).unwrap().is_some());
        }
        assert!(begin_login(&mut store, "vic", Some(ip)).unwrap().is_none());
        assert!(
            begin_login(&mut replica, "vic", Some(ip))
                .unwrap()
                .is_none()
        );
        // Another name from the same address is stopped by the address.
        assert!(
            begin_login(&mut replica, "ann", Some(ip))
                .unwrap()
                .is_none()
        );
        // The same name from elsewhere is stopped by the name.
        assert!(
            begin_login(&mut store, "vic", Some(elsewhere))
                .unwrap()
                .is_none()
        );
        // A success takes back its attempt and the name's failures.
        let attempt = begin_login(&mut store, "ann", Some(elsewhere))
            .unwrap()
            .unwrap();
        login_succeeded(&store, &attempt, "ann").unwrap();
        for _ in 0..MAX_FAILED_LOGINS - 1 {
            assert!(
                begin_login(&mut replica, "ann", Some(elsewhere))
                    .unwrap()
                    .is_some()
            );
        }
        login_succeeded(&replica, "none", "ann").unwrap();
        assert!(begin_login(&mut store, "ann", None).unwrap().is_some());
        // A name longer than any user's is counted under its first bytes.
        let long = "é".repeat(MAX_COUNTED_NAME_BYTES);
        assert_eq!(
            user_subject(&long).len(),
            "user:".len() + MAX_COUNTED_NAME_BYTES
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a=1; mg_session=abc; mg_session_x=zzz";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "mg_sess"), None);
        assert!(tokens_match("abc", "abc") && !tokens_match("abc", "abd"));
    }
}
