//! ECDSA keys on the curves model_signing accepts (P-256, P-384, P-521),
//! read from PEM; the key hint a bundle records.

use std::fmt;

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use signature::hazmat::PrehashVerifier as _;
use signature::{Signer as _, Verifier as _};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use crate::Error;
use crate::pem;

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// An elliptic curve model_signing signs with. The signature hash follows
/// the curve: SHA-256, SHA-384, SHA-512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256 (secp256r1), signed with SHA-256.
    P256,
    /// NIST P-384 (secp384r1), signed with SHA-384.
    P384,
    /// NIST P-521 (secp521r1), signed with SHA-512.
    P521,
}

impl Curve {
    /// The NIST name, e.g. `P-256`.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => SECP256R1,
            Curve::P384 => SECP384R1,
            Curve::P521 => SECP521R1,
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Result<Curve, String> {
        match oid {
            SECP256R1 => Ok(Curve::P256),
            SECP384R1 => Ok(Curve::P384),
            SECP521R1 => Ok(Curve::P521),
            _ => Err(format!(
                "unsupported curve {oid} (supported: P-256, P-384, P-521)"
            )),
        }
    }

    /// The curve of an `id-ecPublicKey` algorithm identifier (of a
    /// SubjectPublicKeyInfo or a PKCS#8 key).
    fn from_algorithm(algorithm: &AlgorithmIdentifierRef<'_>) -> Result<Curve, String> {
        if algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(format!(
                "unsupported key algorithm {} (model signing keys are ECDSA P-256, P-384 or P-521)",
                algorithm.oid
            ));
        }
        let curve_oid = algorithm
            .parameters_oid()
            .map_err(|e| format!("EC key without a named curve: {e}"))?;
        Curve::from_oid(curve_oid)
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone)]
enum VerifyingKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

/// An ECDSA public key: what a verifier trusts, and what a certificate
/// certifies.
///
/// Two keys are equal when they are the same point on the same curve,
/// whatever encoding (compressed or not) they were read from.
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
    /// SubjectPublicKeyInfo DER with the uncompressed point, as Python's
    /// `cryptography` writes it.
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// Read the first `PUBLIC KEY` (SubjectPublicKeyInfo) block of PEM text.
    pub fn from_pem(pem_text: &str) -> Result<PublicKey, Error> {
        let blocks = pem::parse_blocks(pem_text).map_err(|reason| public_error(&reason))?;
        let block = blocks
            .iter()
            .find(|block| block.label == "PUBLIC KEY")
            .ok_or_else(|| {
                let found: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
                public_error(&format!(
                    "no PUBLIC KEY block (found: {})",
                    if found.is_empty() {
                        "nothing".to_string()
                    } else {
                        found.join(", ")
                    }
                ))
            })?;
        PublicKey::from_spki_der(&block.der)
    }

    /// Read a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, Error> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| public_error(&format!("not a SubjectPublicKeyInfo: {e}")))?;
        PublicKey::from_spki(&spki).map_err(|reason| public_error(&reason))
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, String> {
        let curve = Curve::from_algorithm(&spki.algorithm)?;
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| "public key bit string has unused bits".to_string())?;
        let bad_point = |e: ecdsa::Error| format!("invalid {curve} point: {e}");
        let key = match curve {
            Curve::P256 => VerifyingKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad_point)?,
            ),
            Curve::P384 => VerifyingKey::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad_point)?,
            ),
            Curve::P521 => VerifyingKey::P521(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad_point)?,
            ),
        };
        PublicKey::from_verifying_key(key)
    }

    fn from_verifying_key(key: VerifyingKey) -> Result<PublicKey, String> {
        let (curve, point) = match &key {
            VerifyingKey::P256(k) => (Curve::P256, k.to_encoded_point(false).as_bytes().to_vec()),
            VerifyingKey::P384(k) => (Curve::P384, k.to_encoded_point(false).as_bytes().to_vec()),
            VerifyingKey::P521(k) => (Curve::P521, k.to_encoded_point(false).as_bytes().to_vec()),
        };
        let curve_oid = curve.oid();
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from(&curve_oid)),
            },
            subject_public_key: BitStringRef::from_bytes(&point)
                .map_err(|e| format!("cannot encode the public key: {e}"))?,
        };
        let spki_der = spki
            .to_der()
            .map_err(|e| format!("cannot encode the public key: {e}"))?;
        Ok(PublicKey { key, spki_der })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        match self.key {
            VerifyingKey::P256(_) => Curve::P256,
            VerifyingKey::P384(_) => Curve::P384,
            VerifyingKey::P521(_) => Curve::P521,
        }
    }

    /// The SubjectPublicKeyInfo DER (uncompressed point).
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The `PUBLIC KEY` PEM text, written as OpenSSL and `cryptography` do.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// The key hint a bundle records in `verificationMaterial.publicKey.hint`:
    /// lower-case hex SHA-256 of [`PublicKey::to_pem`], as model_signing
    /// computes it.
    pub fn hint(&self) -> String {
        hex(&Sha256::digest(self.to_pem().as_bytes()))
    }

    /// Whether `der_signature` (an ASN.1 DER ECDSA signature) signs `message`
    /// with this key, hashing with the curve's hash.
    pub(crate) fn verify(&self, message: &[u8], der_signature: &[u8]) -> bool {
        match &self.key {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
        }
    }

    /// Whether `der_signature` signs the message whose hash is `prehash`
    /// (certificate signatures, whose hash the algorithm identifier names).
    pub(crate) fn verify_prehash(&self, prehash: &[u8], der_signature: &[u8]) -> bool {
        match &self.key {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify_prehash(prehash, &sig).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify_prehash(prehash, &sig).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|sig| k.verify_prehash(prehash, &sig).is_ok()),
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("curve", &self.curve())
            .field("hint", &self.hint())
            .finish()
    }
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// An ECDSA private key. Signatures are deterministic (RFC 6979) and
/// DER-encoded, as `cryptography` writes them.
pub struct PrivateKey {
    key: SigningKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Read a private key from PEM text: PKCS#8 (`PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`, possibly after an `EC PARAMETERS` block).
    /// Encrypted keys are refused: decrypt them first (e.g. `openssl pkcs8
    /// -in encrypted.pem -out key.pem`).
    pub fn from_pem(pem_text: &str) -> Result<PrivateKey, Error> {
        let blocks = pem::parse_blocks(pem_text).map_err(|reason| private_error(&reason))?;
        for block in &blocks {
            match block.label.as_str() {
                "PRIVATE KEY" => return PrivateKey::from_pkcs8_der(&block.der),
                "EC PRIVATE KEY" => return PrivateKey::from_sec1_der(&block.der),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(private_error(
                        "the key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out PLAIN)",
                    ));
                }
                _ => {}
            }
        }
        Err(private_error(
            "no PRIVATE KEY or EC PRIVATE KEY block (model signing keys are ECDSA)",
        ))
    }

    /// Read a DER PKCS#8 `PrivateKeyInfo` holding an EC key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, Error> {
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| private_error(&format!("not a PKCS#8 private key: {e}")))?;
        let curve = Curve::from_algorithm(&info.algorithm).map_err(|e| private_error(&e))?;
        let sec1 = sec1::EcPrivateKey::try_from(info.private_key)
            .map_err(|e| private_error(&format!("not an EC private key: {e}")))?;
        PrivateKey::from_scalar(curve, sec1.private_key)
    }

    /// Read a DER SEC1 `ECPrivateKey`.
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, Error> {
        let sec1 = sec1::EcPrivateKey::try_from(der)
            .map_err(|e| private_error(&format!("not a SEC1 EC private key: {e}")))?;
        let curve = match sec1.parameters.and_then(|p| p.named_curve()) {
            Some(oid) => Curve::from_oid(oid).map_err(|e| private_error(&e))?,
            // Without parameters the scalar's length names the curve.
            None => match sec1.private_key.len() {
                32 => Curve::P256,
                48 => Curve::P384,
                66 => Curve::P521,
                n => {
                    return Err(private_error(&format!(
                        "EC key of {n} bytes without a named curve"
                    )));
                }
            },
        };
        PrivateKey::from_scalar(curve, sec1.private_key)
    }

    fn from_scalar(curve: Curve, scalar: &[u8]) -> Result<PrivateKey, Error> {
        let bad = |e: ecdsa::Error| private_error(&format!("invalid {curve} private key: {e}"));
        let (key, verifying) = match curve {
            Curve::P256 => {
                let k = p256::ecdsa::SigningKey::from_slice(scalar).map_err(bad)?;
                let v = VerifyingKey::P256(*k.verifying_key());
                (SigningKey::P256(k), v)
            }
            Curve::P384 => {
                let k = p384::ecdsa::SigningKey::from_slice(scalar).map_err(bad)?;
                let v = VerifyingKey::P384(*k.verifying_key());
                (SigningKey::P384(k), v)
            }
            Curve::P521 => {
                let k = p521::ecdsa::SigningKey::from_slice(scalar).map_err(bad)?;
                let public = p521::PublicKey::from_secret_scalar(k.as_nonzero_scalar());
                let v = VerifyingKey::P521(
                    p521::ecdsa::VerifyingKey::from_affine(*public.as_affine()).map_err(bad)?,
                );
                (SigningKey::P521(k), v)
            }
        };
        let public = PublicKey::from_verifying_key(verifying).map_err(|e| private_error(&e))?;
        Ok(PrivateKey { key, public })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// A DER ECDSA signature over `message`, hashed with the curve's hash.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            SigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SigningKey::P521(k) => {
                let sig: p521::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn public_error(reason: &str) -> Error {
    Error::Key {
        what: "public key",
        reason: reason.to_string(),
    }
}

fn private_error(reason: &str) -> Error {
    Error::Key {
        what: "private key",
        reason: reason.to_string(),
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
