//! A real Redis for tests: Debian's `redis-server` on a free loopback port,
//! without persistence, killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port, or returns `None` (the caller skips its
    /// test) when `redis-server` is missing and `MODELGATE_REQUIRE_REDIS`
    /// is unset; with it set (as `scripts/test.sh` does), a missing server
    /// fails the test.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_on(free_port())
    }

    /// Starts one on `port` (say, one a test used before, to bring a
    /// stopped Redis back).
    pub fn start_on(port: u16) -> Option<RedisServer> {
        RedisServer::spawn(port, &["--port", &port.to_string()])
    }

    /// Starts one that speaks TLS only, on a free port, with `certs`'
    /// server certificate; with `client_certificates`, it lets in only
    /// clients that present one its CA signed (`tls-auth-clients yes`).
    /// `None` as [`RedisServer::start`].
    pub fn start_tls(
        certs: &crate::tls::TestCerts,
        client_certificates: bool,
    ) -> Option<RedisServer> {
        let port = free_port();
        let path = |p: &std::path::Path| p.display().to_string();
        RedisServer::spawn(
            port,
            &[
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--tls-cert-file",
                &path(&certs.server_cert),
                "--tls-key-file",
                &path(&certs.server_key),
                "--tls-ca-cert-file",
                &path(&certs.ca),
                "--tls-auth-clients",
                if client_certificates { "yes" } else { "no" },
            ],
        )
    }

    /// `redis-server` on loopback without persistence, with `args`, once
    /// it listens on `port`.
    fn spawn(port: u16, args: &[&str]) -> Option<RedisServer> {
        let child = match Command::new("redis-server")
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                assert!(
                    std::env::var_os("MODELGATE_REQUIRE_REDIS").is_none(),
                    "redis-server could not start ({error}); scripts/native-deps.sh installs it"
                );
                eprintln!("skipped: no redis-server ({error})");
                return None;
            }
        };
        let server = RedisServer { child, port };
        server.wait_listening();
        Some(server)
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}
