//! TLS to PostgreSQL, as libpq's URL options ask for it.
//!
//! `tokio-postgres` knows `sslmode=disable|prefer|require` and nothing of
//! certificates, so [`PgTarget::parse`] takes libpq's `sslmode`,
//! `sslrootcert`, `sslcert` and `sslkey` out of the URL, hands the rest to
//! `tokio-postgres`, and builds the `rustls` client they describe. The
//! modes mean what they mean to `psql`:
//!
//! | `sslmode`          | TLS                      | the server's certificate |
//! |--------------------|--------------------------|--------------------------|
//! | `disable`          | never                    | - |
//! | `prefer` (default) | when the server offers it | not checked |
//! | `require`          | always                   | not checked, unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca`        | always                   | signed by a CA in `sslrootcert` |
//! | `verify-full`      | always                   | and issued for the host in the URL |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! operating system's roots (the default of the two `verify-` modes when
//! it is not given). `sslcert` and `sslkey` are the client's own
//! certificate chain and key (PEM), for servers that authenticate clients
//! by certificate (`cert` in `pg_hba.conf`). libpq's `allow` (plain
//! first, TLS if refused) has no equivalent and is refused.
//!
//! Only `rustls` is used (no OpenSSL), with the `ring` provider the
//! gateway's HTTPS client already builds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db::{DatabaseError, off_runtime};

/// libpq's `sslmode`, less `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, its certificate not checked.
    Prefer,
    /// Always TLS; the certificate checked only against a given
    /// `sslrootcert`.
    Require,
    /// Always TLS, the certificate signed by a trusted CA.
    VerifyCa,
    /// Always TLS, the certificate signed by a trusted CA and issued for
    /// the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow (plain first, TLS if refused) is not supported: use prefer or require"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    /// The name libpq gives it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A PostgreSQL server to connect to: the client's settings and the TLS
/// it must use.
#[derive(Clone)]
pub(crate) struct PgTarget {
    pub(crate) config: postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) mode: SslMode,
    /// What is checked of the server's certificate.
    checks: Checks,
}

/// What the client checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Nothing (`prefer`, `require` without `sslrootcert`).
    Nothing,
    /// That a trusted CA signed it.
    Ca,
    /// That, and that it was issued for the host.
    CaAndHost,
}

/// libpq's TLS options, as found in a URL.
#[derive(Default)]
struct TlsOptions {
    mode: Option<String>,
    root: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl PgTarget {
    /// Read a `postgres://` URL and its TLS options, loading the
    /// certificate files they name. The error says what is wrong, for
    /// [`crate::Error::BadDatabase`].
    pub(crate) fn parse(url: &str) -> Result<PgTarget, String> {
        let (rest, options) = take_tls_options(url)?;
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|e| format!("it is not a PostgreSQL URL: {e}"))?;
        let mode = match &options.mode {
            Some(text) => SslMode::parse(text)?,
            None => SslMode::Prefer,
        };
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        let checks = match (mode, &options.root) {
            (SslMode::VerifyFull, _) => Checks::CaAndHost,
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Checks::Ca,
            _ => Checks::Nothing,
        };
        let tls = client_config(checks, &options)?;
        Ok(PgTarget {
            config,
            tls: MakeRustlsConnect::new(tls),
            mode,
            checks,
        })
    }
    /// A new session, with TLS as the URL asked; a failed handshake is
    /// told apart from the server's other refusals, with what to do.
    pub(crate) fn connect(&self) -> Result<postgres::Client, DatabaseError> {
        let tls = self.tls.clone();
        off_runtime(|| self.config.connect(tls)).map_err(|error| {
            // tokio-postgres has one kind for every TLS failure, shown
            // as this text; the reason is in its source.
            if error.to_string() != "error performing TLS handshake" {
                return DatabaseError::Postgres(error);
            }
            let detail = std::error::Error::source(&error)
                .map_or_else(|| "no reason given".to_owned(), ToString::to_string);
            let hint = if detail.contains("does not support TLS") {
                "turn on ssl in the server's postgresql.conf, or connect with sslmode=prefer"
            } else {
                match self.checks {
                    Checks::CaAndHost => {
                        "the server's certificate must be signed by a CA in sslrootcert (the system's roots when it is not given) and issued for the host in the URL; sslmode=verify-ca does not check the host"
                    }
                    Checks::Ca => {
                        "the server's certificate must be signed by a CA in sslrootcert (the system's roots when it is not given)"
                    }
                    Checks::Nothing => {
                        "check the server's TLS settings (ssl_cert_file, ssl_key_file, ssl_min_protocol_version)"
                    }
                }
            };
            DatabaseError::Tls {
                mode: self.mode.as_str(),
                detail,
                hint,
            }
        })
    }
}

/// `url` without libpq's TLS options, and those options.
fn take_tls_options(url: &str) -> Result<(String, TlsOptions), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsOptions::default()));
    };
    let mut options = TlsOptions::default();
    let mut kept = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let slot = match key {
            "sslmode" => &mut options.mode,
            "sslrootcert" => &mut options.root,
            "sslcert" => &mut options.cert,
            "sslkey" => &mut options.key,
            _ => {
                kept.push(part);
                continue;
            }
        };
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("{key} is not UTF-8 once its %XX escapes are decoded"))?;
        *slot = Some(decoded.into_owned());
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, options))
}

/// The `rustls` client that makes `checks`, with the files `options` name.
fn client_config(checks: Checks, options: &TlsOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS is not available: {e}"))?;
    let verifier = |root: Option<&str>| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root)?), provider.clone())
            .build()
            .map_err(|e| format!("cannot check certificates: {e}"))
    };
    let verifier: Arc<dyn ServerCertVerifier> = match checks {
        // Nothing to check the certificate against: as libpq, encrypt only.
        Checks::Nothing => Arc::new(Unchecked(provider.clone())),
        Checks::Ca => Arc::new(AnyName(verifier(options.root.as_deref())?)),
        Checks::CaAndHost => verifier(options.root.as_deref())?,
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&options.cert, &options.key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates(Path::new(cert), "sslcert")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!("sslkey {key}: no private key could be read ({e}); give a PEM file")
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("sslcert and sslkey do not make a client identity: {e}"))
        }
        (Some(_), None) => Err("sslcert is given without sslkey: give both".into()),
        (None, Some(_)) => Err("sslkey is given without sslcert: give both".into()),
    }
}

/// The CAs in `sslrootcert`: a PEM file, or `system` (also the default)
/// for the operating system's roots.
fn roots(root: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        None | Some("system") => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "the system has no CA certificates to check the server's against: give sslrootcert=PATH"
                        .into(),
                );
            }
        }
        Some(path) => {
            for cert in certificates(Path::new(path), "sslrootcert")? {
                store.add(cert).map_err(|e| {
                    format!("sslrootcert {path}: a certificate is not usable ({e})")
                })?;
            }
        }
    }
    Ok(store)
}

/// Every certificate in the PEM file `path` (at least one).
fn certificates(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = PathBuf::from(path);
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{option} {}: cannot be read ({e})", shown.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{option} {}: holds no PEM certificate",
            shown.display()
        ));
    }
    Ok(certs)
}

/// `prefer` and `require` without a root: the session is encrypted and
/// its handshake signatures checked, but anyone's certificate is taken.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (and `require` with a root): the chain must lead to a
/// trusted CA, for whatever host.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last, once the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_and_the_rest_kept() {
        let (rest, options) = take_tls_options(
            "postgres://u:p@db.example:5433/mg?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca%20root.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db.example:5433/mg?application_name=x");
        assert_eq!(options.mode.as_deref(), Some("verify-full"));
        assert_eq!(options.root.as_deref(), Some("/etc/ca root.pem"));
        let (rest, options) = take_tls_options("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(options.mode.as_deref(), Some("disable"));
        assert!(take_tls_options("postgres://u@h/db?sslrootcert=%FF").is_err());
    }

    #[test]
    fn modes_are_libpqs_and_allow_is_refused_with_what_to_use() {
        let mode = |url: &str| PgTarget::parse(url).map(|target| target.mode);
        assert_eq!(mode("postgres://u@h/db"), Ok(SslMode::Prefer));
        assert_eq!(
            mode("postgres://u@h/db?sslmode=disable"),
            Ok(SslMode::Disable)
        );
        assert_eq!(
            mode("postgres://u@h/db?sslmode=require"),
            Ok(SslMode::Require)
        );
        assert!(
            mode("postgres://u@h/db?sslmode=allow")
                .unwrap_err()
                .contains("use prefer or require")
        );
        assert!(
            mode("postgres://u@h/db?sslmode=strict")
                .unwrap_err()
                .contains("not one of")
        );
    }

    #[test]
    fn certificate_files_are_named_when_they_cannot_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = PgTarget::parse(&format!(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert={}",
            missing.display()
        ))
        .err()
        .unwrap();
        assert!(
            error.contains("sslrootcert") && error.contains("missing.pem"),
            "{error}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = PgTarget::parse(&format!(
            "postgres://u@h/db?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ))
        .err()
        .unwrap();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        let error = PgTarget::parse("postgres://u@h/db?sslcert=/x.pem")
            .err()
            .unwrap();
        assert!(error.contains("without sslkey"), "{error}");
    }
}
