//! Certificates for tests of TLS, made by Debian's `openssl` in a
//! directory: a CA that signed a server certificate (for `localhost` and
//! 127.0.0.1) and a client certificate, and another CA that signed
//! nothing, for the refusals.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files [`TestCerts::make`] wrote (PEM, EC P-256 keys).
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA that signed the others.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// The server's certificate (`localhost`, 127.0.0.1) and key.
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// A client certificate (CN `modelgate-test-client`) and key.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl TestCerts {
    /// Make them in `dir` with `openssl` (`scripts/native-deps.sh`
    /// installs it); panics, saying so, when it is missing or fails.
    pub fn make(dir: &Path) -> TestCerts {
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap_or_else(|e| {
                    panic!("openssl could not run ({e}); scripts/native-deps.sh installs it")
                });
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "other-ca"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "30",
                "-subj",
                &format!("/CN=modelgate test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        for (name, subject, extensions) in [
            (
                "server",
                "/CN=localhost",
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            (
                "client",
                "/CN=modelgate-test-client",
                "extendedKeyUsage=clientAuth\n",
            ),
        ] {
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ]);
            std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        TestCerts {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }
}
