//! The signature file: a Sigstore bundle v0.3 (JSON) around a DSSE
//! envelope whose payload is the in-toto statement.
//!
//! The file is untrusted input: its size is capped before it is parsed,
//! every count in it is capped, and every field is checked with its name.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::certificate::{Certificate, CertificateInfo, MAX_BUNDLE_CERTIFICATES};
use crate::json::{Bounded, Cap};
use crate::{Error, Manifest};

/// `mediaType` of the bundles model_signing writes and reads.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest signature file read or written (several hundred thousand
/// entries).
pub const MAX_SIGNATURE_BYTES: u64 = 128 << 20;
/// Most DSSE signatures in one envelope (only the first is verified, as
/// model_signing does).
const MAX_DSSE_SIGNATURES: usize = 16;
/// Longest key hint kept.
const MAX_HINT_CHARS: usize = 512;

const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// DSSE v1 pre-authentication encoding of an in-toto payload: what is
/// actually signed.
pub(crate) fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Who a bundle says signed it (unverified until [`crate::verify`] succeeds).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerInfo {
    /// Key method: the hint (hex SHA-256 of the public key's PEM), when the
    /// bundle records one (model_signing before 1.0 did not).
    Key {
        /// `verificationMaterial.publicKey.hint`.
        hint: Option<String>,
    },
    /// Certificate method: the certificates the bundle carries, signing
    /// certificate first.
    Certificate {
        /// The chain as carried.
        chain: Vec<CertificateInfo>,
    },
}

/// What a bundle carries to identify its signer.
#[derive(Debug, Clone)]
pub(crate) enum Material {
    PublicKey { hint: Option<String> },
    CertificateChain(Vec<Certificate>),
}

impl Material {
    pub(crate) fn signer_info(&self) -> SignerInfo {
        match self {
            Material::PublicKey { hint } => SignerInfo::Key { hint: hint.clone() },
            Material::CertificateChain(chain) => SignerInfo::Certificate {
                chain: chain.iter().map(|c| c.info().clone()).collect(),
            },
        }
    }
}

/// `verificationMaterial.x509CertificateChain.certificates`.
pub(crate) const CERTIFICATES_FIELD: &str =
    "verificationMaterial.x509CertificateChain.certificates";

/// A parsed, not yet verified, signature file.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub(crate) material: Material,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_type: String,
    pub(crate) signature: Vec<u8>,
}

impl Bundle {
    /// Parse a signature file's bytes. Checks the shape only: nothing here
    /// is trusted until [`crate::verify`] checks the signature.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, Error> {
        let size = bytes.len() as u64;
        if size > MAX_SIGNATURE_BYTES {
            return Err(Error::SignatureTooLarge {
                size,
                limit: MAX_SIGNATURE_BYTES,
            });
        }
        let bundle: BundleIn = serde_json::from_slice(bytes)
            .map_err(|e| Error::bundle("(document)", format!("not a bundle: {e}")))?;
        let media_type = required(bundle.media_type, "mediaType")?;
        if media_type != BUNDLE_MEDIA_TYPE {
            return Err(Error::bundle(
                "mediaType",
                format!("{media_type:?}, expected {BUNDLE_MEDIA_TYPE}"),
            ));
        }
        let material = parse_material(required(
            bundle.verification_material,
            "verificationMaterial",
        )?)?;
        let Some(envelope) = bundle.dsse_envelope else {
            return Err(Error::bundle(
                "dsseEnvelope",
                if bundle.message_signature.is_some() {
                    "missing (this bundle signs a message digest, not a model statement)"
                } else {
                    "missing"
                },
            ));
        };
        let payload = decode_base64(
            &required(envelope.payload, "dsseEnvelope.payload")?,
            "dsseEnvelope.payload",
        )?;
        let payload_type = required(envelope.payload_type, "dsseEnvelope.payloadType")?;
        let signatures = required(envelope.signatures, "dsseEnvelope.signatures")?.0;
        let Some(first) = signatures.into_iter().next() else {
            return Err(Error::bundle("dsseEnvelope.signatures", "empty"));
        };
        let signature = decode_base64(
            &required(first.sig, "dsseEnvelope.signatures[0].sig")?,
            "dsseEnvelope.signatures[0].sig",
        )?;
        Ok(Bundle {
            material,
            payload,
            payload_type,
            signature,
        })
    }

    /// Who the bundle says signed it. Unverified: use it to pick or report a
    /// key, never to trust one.
    pub fn signer(&self) -> SignerInfo {
        self.material.signer_info()
    }

    /// The DSSE payload (the in-toto statement's JSON bytes).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The statement read without checking the signature: for inspection
    /// only.
    pub fn unverified_manifest(&self) -> Result<Manifest, Error> {
        Manifest::from_statement_json(&self.payload)
    }

    /// The bundle JSON (compact, no trailing newline) for a signed payload.
    pub(crate) fn encode(material: &Material, payload: &[u8], signature: &[u8]) -> Vec<u8> {
        let b64 = &base64::engine::general_purpose::STANDARD;
        let (public_key, x509_certificate_chain) = match material {
            Material::PublicKey { hint } => (
                Some(HintOut {
                    hint: hint.as_deref().unwrap_or(""),
                }),
                None,
            ),
            Material::CertificateChain(chain) => (
                None,
                Some(ChainOut {
                    certificates: chain
                        .iter()
                        .map(|c| RawBytesOut {
                            raw_bytes: b64.encode(c.to_der()),
                        })
                        .collect(),
                }),
            ),
        };
        let out = BundleOut {
            media_type: BUNDLE_MEDIA_TYPE,
            verification_material: MaterialOut {
                public_key,
                x509_certificate_chain,
                tlog_entries: [],
            },
            dsse_envelope: EnvelopeOut {
                payload: b64.encode(payload),
                payload_type: PAYLOAD_TYPE,
                signatures: [SignatureOut {
                    sig: b64.encode(signature),
                    keyid: "",
                }],
            },
        };
        // Plain structs of strings cannot fail to serialize.
        serde_json::to_vec(&out).unwrap_or_default()
    }
}

fn parse_material(material: MaterialIn) -> Result<Material, Error> {
    if let Some(key) = material.public_key {
        let hint = match key.hint {
            None => None,
            Some(hint) if hint.is_empty() => None,
            Some(hint) if hint.chars().count() <= MAX_HINT_CHARS => Some(hint),
            Some(_) => {
                return Err(Error::bundle(
                    "verificationMaterial.publicKey.hint",
                    format!("longer than {MAX_HINT_CHARS} characters"),
                ));
            }
        };
        return Ok(Material::PublicKey { hint });
    }
    if let Some(chain) = material.x509_certificate_chain {
        let certificates = required(chain.certificates, CERTIFICATES_FIELD)?.0;
        if certificates.is_empty() {
            return Err(Error::bundle(CERTIFICATES_FIELD, "empty"));
        }
        let mut chain = Vec::with_capacity(certificates.len());
        for (index, certificate) in certificates.into_iter().enumerate() {
            let field = format!("{CERTIFICATES_FIELD}[{index}].rawBytes");
            let der = decode_base64(&required(certificate.raw_bytes, &field)?, &field)?;
            chain.push(
                Certificate::parse(&der).map_err(|reason| Error::Certificate {
                    origin: "signature".to_string(),
                    index,
                    reason,
                })?,
            );
        }
        return Ok(Material::CertificateChain(chain));
    }
    if material.certificate.is_some() {
        return Err(Error::bundle(
            "verificationMaterial.certificate",
            "a Sigstore keyless (Fulcio) signature; verifying it needs the Sigstore trust root and transparency log, which modelgate does not use",
        ));
    }
    Err(Error::bundle(
        "verificationMaterial",
        "neither publicKey nor x509CertificateChain",
    ))
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::bundle(field, "missing"))
}

/// Standard base64 (as protobuf's JSON mapping writes bytes), or URL-safe
/// (which it also accepts), padded or not.
fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, Error> {
    BASE64_LENIENT
        .decode(text)
        .or_else(|_| BASE64_URL_LENIENT.decode(text))
        .map_err(|e| Error::bundle(field, format!("not base64: {e}")))
}

// The bundle as read: every field optional (presence is checked with its
// name), unknown fields (tlogEntries, timestamps) skipped, arrays capped.

struct CertificatesCap;
impl Cap for CertificatesCap {
    const MAX: usize = MAX_BUNDLE_CERTIFICATES;
    const FIELD: &'static str = CERTIFICATES_FIELD;
}

struct SignaturesCap;
impl Cap for SignaturesCap {
    const MAX: usize = MAX_DSSE_SIGNATURES;
    const FIELD: &'static str = "dsseEnvelope.signatures";
}

#[derive(Deserialize)]
struct BundleIn {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "verificationMaterial")]
    verification_material: Option<MaterialIn>,
    #[serde(rename = "dsseEnvelope")]
    dsse_envelope: Option<EnvelopeIn>,
    #[serde(rename = "messageSignature")]
    message_signature: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct MaterialIn {
    #[serde(rename = "publicKey")]
    public_key: Option<PublicKeyIn>,
    #[serde(rename = "x509CertificateChain")]
    x509_certificate_chain: Option<ChainIn>,
    certificate: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct PublicKeyIn {
    hint: Option<String>,
}

#[derive(Deserialize)]
struct ChainIn {
    certificates: Option<Bounded<RawBytesIn, CertificatesCap>>,
}

#[derive(Deserialize)]
struct RawBytesIn {
    #[serde(rename = "rawBytes")]
    raw_bytes: Option<String>,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    payload: Option<String>,
    #[serde(rename = "payloadType")]
    payload_type: Option<String>,
    signatures: Option<Bounded<SignatureIn, SignaturesCap>>,
}

#[derive(Deserialize)]
struct SignatureIn {
    sig: Option<String>,
}

#[derive(Serialize)]
struct BundleOut<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    #[serde(rename = "verificationMaterial")]
    verification_material: MaterialOut<'a>,
    #[serde(rename = "dsseEnvelope")]
    dsse_envelope: EnvelopeOut,
}

#[derive(Serialize)]
struct MaterialOut<'a> {
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none")]
    public_key: Option<HintOut<'a>>,
    #[serde(
        rename = "x509CertificateChain",
        skip_serializing_if = "Option::is_none"
    )]
    x509_certificate_chain: Option<ChainOut>,
    #[serde(rename = "tlogEntries")]
    tlog_entries: [(); 0],
}

#[derive(Serialize)]
struct HintOut<'a> {
    hint: &'a str,
}

#[derive(Serialize)]
struct ChainOut {
    certificates: Vec<RawBytesOut>,
}

#[derive(Serialize)]
struct RawBytesOut {
    #[serde(rename = "rawBytes")]
    raw_bytes: String,
}

#[derive(Serialize)]
struct EnvelopeOut {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: &'static str,
    signatures: [SignatureOut; 1],
}

#[derive(Serialize)]
struct SignatureOut {
    sig: String,
    keyid: &'static str,
}
