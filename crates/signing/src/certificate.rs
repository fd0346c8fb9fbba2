//! X.509 certificates for the certificate method: parsing, and the chain
//! check a verifier makes before trusting the signing certificate's key.
//!
//! What is checked mirrors model_signing 1.1.1 (which asks OpenSSL): the
//! chain from the signing certificate through the bundle's certificates must
//! reach a trusted certificate, every signature in it must verify, every
//! issuer must be a CA (basic constraints, `keyCertSign` when key usage is
//! present, path length), no certificate may carry a critical extension that
//! is not understood, and every certificate must be valid **at the signing
//! certificate's notBefore** (model_signing's reference time, since a bundle
//! carries no timestamp). The signing certificate must allow
//! `digitalSignature` or extended key usage `codeSigning`. Unlike OpenSSL's
//! default, a trusted certificate that is not self-signed (an intermediate)
//! ends a chain: trusting it is the caller's choice.

use std::fmt;

use der::asn1::ObjectIdentifier;
use der::{Decode, Reader, SliceReader};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::bundle::CERTIFICATES_FIELD;
use crate::keys::{ID_EC_PUBLIC_KEY, PublicKey, hex};
use crate::{Error, pem};

/// Longest certificate chain followed (signing certificate to trust anchor).
pub const MAX_CHAIN_LENGTH: usize = 10;
/// Most certificates read from one bundle.
pub const MAX_BUNDLE_CERTIFICATES: usize = 32;
/// Most extensions in one certificate (real ones carry about ten; the
/// duplicate check is quadratic in them).
pub const MAX_CERTIFICATE_EXTENSIONS: usize = 256;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

const EXT_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXT_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EXT_ISSUER_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.18");
const EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXT_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const EXT_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const EXT_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// Extensions whose meaning is understood (or harmless to ignore) when
/// marked critical. Name constraints and policy constraints are not: a
/// certificate carrying them critically is refused, failing closed.
const UNDERSTOOD_CRITICAL: [ObjectIdentifier; 8] = [
    EXT_SUBJECT_KEY_ID,
    EXT_KEY_USAGE,
    EXT_SUBJECT_ALT_NAME,
    EXT_ISSUER_ALT_NAME,
    EXT_BASIC_CONSTRAINTS,
    EXT_CERTIFICATE_POLICIES,
    EXT_AUTHORITY_KEY_ID,
    EXT_EXTENDED_KEY_USAGE,
];

/// What a report says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject distinguished name (RFC 4514 form, e.g. `CN=release-signer,O=Example`).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, upper-case hex with colons.
    pub serial: String,
    /// Lower-case hex SHA-256 of the DER certificate.
    pub sha256_fingerprint: String,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: u64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: u64,
}

/// A parsed X.509 certificate.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    /// The raw `tbsCertificate` bytes the issuer signed.
    tbs_der: Vec<u8>,
    cert: x509_cert::Certificate,
    info: CertificateInfo,
}

impl Certificate {
    /// Every `CERTIFICATE` block of PEM text, in order (a chain or a CA
    /// bundle). Fails when there is none.
    pub fn from_pem(pem_text: &str) -> Result<Vec<Certificate>, Error> {
        let bad = |index: usize, reason: String| Error::Certificate {
            origin: "PEM".to_string(),
            index,
            reason,
        };
        let blocks = pem::parse_blocks(pem_text).map_err(|reason| bad(0, reason))?;
        let mut certificates = Vec::new();
        for block in blocks.iter().filter(|b| b.label == "CERTIFICATE") {
            let index = certificates.len();
            certificates.push(Certificate::parse(&block.der).map_err(|r| bad(index, r))?);
        }
        if certificates.is_empty() {
            return Err(bad(0, "no CERTIFICATE block".to_string()));
        }
        Ok(certificates)
    }

    /// One DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        Certificate::parse(der).map_err(|reason| Error::Certificate {
            origin: "DER".to_string(),
            index: 0,
            reason,
        })
    }

    pub(crate) fn parse(der: &[u8]) -> Result<Certificate, String> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let tbs_der = raw_tbs(der)
            .ok_or_else(|| "cannot locate tbsCertificate".to_string())?
            .to_vec();
        let tbs = &cert.tbs_certificate;
        let n_extensions = tbs.extensions.as_ref().map_or(0, Vec::len);
        if n_extensions > MAX_CERTIFICATE_EXTENSIONS {
            return Err(format!(
                "{n_extensions} extensions, more than {MAX_CERTIFICATE_EXTENSIONS}"
            ));
        }
        let info = CertificateInfo {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            serial: tbs.serial_number.to_string(),
            sha256_fingerprint: hex(&Sha256::digest(der)),
            not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
        };
        Ok(Certificate {
            der: der.to_vec(),
            tbs_der,
            cert,
            info,
        })
    }

    /// Subject, issuer, serial, fingerprint and validity.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The certified key, when it is an ECDSA key model signing can use.
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        self.ec_public_key().map_err(|reason| Error::Key {
            what: "certificate key",
            reason,
        })
    }

    fn ec_public_key(&self) -> Result<PublicKey, String> {
        let spki = self.spki()?;
        PublicKey::from_spki(&spki)
    }

    fn spki(&self) -> Result<SubjectPublicKeyInfoRef<'_>, String> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        Ok(SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: spki.algorithm.oid,
                parameters: spki.algorithm.parameters.as_ref().map(Into::into),
            },
            subject_public_key: der::asn1::BitStringRef::new(
                spki.subject_public_key.unused_bits(),
                spki.subject_public_key.raw_bytes(),
            )
            .map_err(|e| format!("bad public key bit string: {e}"))?,
        })
    }

    fn extension_flags(&self) -> Result<Extensions, String> {
        let mut found = Extensions::default();
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for extension in self
            .cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[])
        {
            let oid = extension.extn_id;
            if seen.contains(&oid) {
                return Err(format!("extension {oid} appears twice"));
            }
            seen.push(oid);
            let value = extension.extn_value.as_bytes();
            match oid {
                EXT_BASIC_CONSTRAINTS => {
                    found.basic_constraints = Some(
                        BasicConstraints::from_der(value)
                            .map_err(|e| format!("bad basic constraints: {e}"))?,
                    );
                }
                EXT_KEY_USAGE => {
                    found.key_usage =
                        Some(KeyUsage::from_der(value).map_err(|e| format!("bad key usage: {e}"))?);
                }
                EXT_EXTENDED_KEY_USAGE => {
                    found.extended_key_usage = Some(
                        ExtendedKeyUsage::from_der(value)
                            .map_err(|e| format!("bad extended key usage: {e}"))?,
                    );
                }
                _ if extension.critical && !UNDERSTOOD_CRITICAL.contains(&oid) => {
                    return Err(format!("unsupported critical extension {oid}"));
                }
                _ => {}
            }
        }
        Ok(found)
    }

    fn is_valid_at(&self, unix_seconds: u64) -> bool {
        self.info.not_before <= unix_seconds && unix_seconds <= self.info.not_after
    }

    /// Whether `child`'s signature verifies with this certificate's key.
    fn signed(&self, child: &Certificate) -> Result<(), String> {
        let algorithm = &child.cert.signature_algorithm;
        if algorithm != &child.cert.tbs_certificate.signature {
            return Err("outer and inner signature algorithms differ".to_string());
        }
        let signature = child
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| "signature bit string has unused bits".to_string())?;
        let message = &child.tbs_der;
        let issuer_key = &self.cert.tbs_certificate.subject_public_key_info;
        let ok = match algorithm.oid {
            ECDSA_WITH_SHA256 | ECDSA_WITH_SHA384 | ECDSA_WITH_SHA512 => {
                if issuer_key.algorithm.oid != ID_EC_PUBLIC_KEY {
                    return Err("ECDSA signature from a non-EC issuer key".to_string());
                }
                let key = self.ec_public_key()?;
                let prehash = match algorithm.oid {
                    ECDSA_WITH_SHA256 => Sha256::digest(message).to_vec(),
                    ECDSA_WITH_SHA384 => Sha384::digest(message).to_vec(),
                    _ => Sha512::digest(message).to_vec(),
                };
                key.verify_prehash(&prehash, signature)
            }
            SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                if issuer_key.algorithm.oid != RSA_ENCRYPTION {
                    return Err("RSA signature from a non-RSA issuer key".to_string());
                }
                let key_bytes = issuer_key
                    .subject_public_key
                    .as_bytes()
                    .ok_or_else(|| "issuer key bit string has unused bits".to_string())?;
                let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes)
                    .map_err(|e| format!("issuer RSA key: {e}"))?;
                let (scheme, prehash) = match algorithm.oid {
                    SHA256_WITH_RSA => (
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        Sha256::digest(message).to_vec(),
                    ),
                    SHA384_WITH_RSA => (
                        rsa::Pkcs1v15Sign::new::<Sha384>(),
                        Sha384::digest(message).to_vec(),
                    ),
                    _ => (
                        rsa::Pkcs1v15Sign::new::<Sha512>(),
                        Sha512::digest(message).to_vec(),
                    ),
                };
                key.verify(scheme, &prehash, signature).is_ok()
            }
            other => return Err(format!("unsupported signature algorithm {other}")),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "signature by {} does not verify",
                self.info.subject
            ))
        }
    }

    /// Check this certificate as the issuer of `child`, with `below`
    /// intermediate CAs under it in the path.
    fn check_issuer(&self, child: &Certificate, below: usize, at: u64) -> Result<(), String> {
        if self.cert.tbs_certificate.subject != child.cert.tbs_certificate.issuer {
            return Err("issuer name does not match".to_string());
        }
        self.signed(child)?;
        let extensions = self.extension_flags()?;
        let self_issued = self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer;
        match &extensions.basic_constraints {
            Some(bc) if bc.ca => {
                if let Some(limit) = bc.path_len_constraint
                    && below > usize::from(limit)
                {
                    return Err(format!(
                        "{} allows {limit} intermediate CAs below it, the chain has {below}",
                        self.info.subject
                    ));
                }
            }
            // OpenSSL treats a self-signed version 1 certificate as a CA.
            None if self_issued
                && self.cert.tbs_certificate.version == x509_cert::certificate::Version::V1 => {}
            _ => return Err(format!("{} is not a CA certificate", self.info.subject)),
        }
        if let Some(usage) = &extensions.key_usage
            && !usage.key_cert_sign()
        {
            return Err(format!(
                "{} may not sign certificates (no keyCertSign)",
                self.info.subject
            ));
        }
        if !self.is_valid_at(at) {
            return Err(format!(
                "{} is not valid at the signing certificate's notBefore",
                self.info.subject
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Certificate) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

#[derive(Default)]
struct Extensions {
    basic_constraints: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Option<ExtendedKeyUsage>,
}

/// The bytes of the first element (`tbsCertificate`) of a DER certificate.
fn raw_tbs(der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(der).ok()?;
    let outer = der::Header::decode(&mut reader).ok()?;
    if outer.tag != der::Tag::Sequence {
        return None;
    }
    reader.tlv_bytes().ok()
}

/// A verified chain: the signing certificate first, the trusted certificate
/// last, and the position of that trusted certificate among the anchors.
pub(crate) struct VerifiedChain {
    pub(crate) path: Vec<CertificateInfo>,
    pub(crate) anchor_index: usize,
    pub(crate) signing_key: PublicKey,
}

/// Check `chain` (signing certificate first, then the bundle's other
/// certificates in any order) against the trusted `anchors`.
pub(crate) fn verify_chain(
    chain: &[Certificate],
    anchors: &[Certificate],
) -> Result<VerifiedChain, Error> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(Error::bundle(CERTIFICATES_FIELD, "empty"));
    };
    let untrusted = |certificate: &Certificate, reason: String| Error::UntrustedChain {
        subject: certificate.info.subject.clone(),
        reason,
    };
    let at = leaf.info.not_before;
    let extensions = leaf.extension_flags().map_err(|r| untrusted(leaf, r))?;
    let can_sign = extensions
        .key_usage
        .as_ref()
        .is_some_and(|usage| usage.digital_signature())
        || extensions
            .extended_key_usage
            .as_ref()
            .is_some_and(|usage| usage.0.contains(&ID_KP_CODE_SIGNING));
    if !can_sign {
        return Err(untrusted(
            leaf,
            "the signing certificate cannot be used for signing (needs key usage digitalSignature or extended key usage codeSigning)".to_string(),
        ));
    }
    if !leaf.is_valid_at(at) {
        return Err(untrusted(leaf, "its validity period is empty".to_string()));
    }
    let signing_key = leaf
        .ec_public_key()
        .map_err(|r| untrusted(leaf, format!("signing key: {r}")))?;

    let mut path: Vec<&Certificate> = vec![leaf];
    let mut current = leaf;
    while path.len() <= MAX_CHAIN_LENGTH {
        let below = path.len() - 1;
        let mut anchor_failure = None;
        for (anchor_index, anchor) in anchors.iter().enumerate() {
            if anchor.cert.tbs_certificate.subject != current.cert.tbs_certificate.issuer {
                continue;
            }
            match anchor.check_issuer(current, below, at) {
                Ok(()) => {
                    path.push(anchor);
                    return Ok(VerifiedChain {
                        path: path.iter().map(|c| c.info.clone()).collect(),
                        anchor_index,
                        signing_key,
                    });
                }
                Err(reason) => anchor_failure = Some(reason),
            }
        }
        let mut failure = anchor_failure;
        let mut next = None;
        for candidate in intermediates {
            if path.contains(&candidate)
                || candidate.cert.tbs_certificate.subject != current.cert.tbs_certificate.issuer
            {
                continue;
            }
            match candidate.check_issuer(current, below, at) {
                Ok(()) => {
                    next = Some(candidate);
                    break;
                }
                Err(reason) => failure = failure.or(Some(reason)),
            }
        }
        match next {
            Some(issuer) => {
                path.push(issuer);
                current = issuer;
            }
            None => {
                return Err(untrusted(
                    current,
                    failure.unwrap_or_else(|| {
                        format!(
                            "its issuer {} is neither trusted nor in the signature",
                            current.info.issuer
                        )
                    }),
                ));
            }
        }
    }
    Err(untrusted(
        leaf,
        format!("longer than {MAX_CHAIN_LENGTH} certificates"),
    ))
}
