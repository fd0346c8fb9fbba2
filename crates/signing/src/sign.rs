//! Signing: the manifest's statement, DSSE-signed, in a Sigstore bundle.

use std::path::Path;

use crate::bundle::{Material, pae};
use crate::hashing::{HashOptions, Progress, hash_model};
use crate::{Bundle, Certificate, Error, MAX_SIGNATURE_BYTES, Manifest, PrivateKey, SignerInfo};

/// The signing material: a key alone (key method) or a key with its
/// certificate and chain (certificate method).
#[derive(Debug)]
pub enum Signer {
    /// Key method: the bundle records the public key's hint.
    Key(PrivateKey),
    /// Certificate method: the bundle carries the signing certificate
    /// followed by `chain`.
    Certificate {
        /// The private key of the signing certificate.
        key: PrivateKey,
        /// The signing certificate first, then the rest of the chain (as
        /// given, typically intermediates; roots are harmless).
        chain: Vec<Certificate>,
    },
}

impl Signer {
    /// Key method.
    pub fn with_key(key: PrivateKey) -> Signer {
        Signer::Key(key)
    }

    /// Certificate method. Fails when `signing_certificate` does not certify
    /// `key`'s public key.
    pub fn with_certificate(
        key: PrivateKey,
        signing_certificate: Certificate,
        chain: Vec<Certificate>,
    ) -> Result<Signer, Error> {
        match signing_certificate.public_key() {
            Ok(certified) if &certified == key.public_key() => {}
            _ => return Err(Error::CertificateKeyMismatch),
        }
        let mut all = Vec::with_capacity(chain.len() + 1);
        all.push(signing_certificate);
        all.extend(chain);
        Ok(Signer::Certificate { key, chain: all })
    }

    /// What the bundle will say about the signer.
    pub fn info(&self) -> SignerInfo {
        self.material().signer_info()
    }

    fn key(&self) -> &PrivateKey {
        match self {
            Signer::Key(key) | Signer::Certificate { key, .. } => key,
        }
    }

    /// What the bundle carries: the key's hint, or the chain.
    fn material(&self) -> Material {
        match self {
            Signer::Key(key) => Material::PublicKey {
                hint: Some(key.public_key().hint()),
            },
            Signer::Certificate { chain, .. } => Material::CertificateChain(chain.clone()),
        }
    }
}

/// Sign a manifest: the bundle JSON bytes to write as the signature file.
/// Fails when the bundle would be larger than [`MAX_SIGNATURE_BYTES`]
/// (which verifiers refuse): sign in files mode, or with larger shards.
pub fn sign_manifest(manifest: &Manifest, signer: &Signer) -> Result<Vec<u8>, Error> {
    let payload = manifest.statement_json();
    let message = pae(&payload);
    let signature = signer.key().sign(&message);
    let bundle = Bundle::encode(&signer.material(), &payload, &signature);
    let size = bundle.len() as u64;
    if size > MAX_SIGNATURE_BYTES {
        return Err(Error::SignatureTooLarge {
            size,
            limit: MAX_SIGNATURE_BYTES,
        });
    }
    Ok(bundle)
}

/// Hash the model at `model` and sign its manifest. Returns the manifest
/// and the bundle bytes.
pub fn sign_model(
    model: &Path,
    options: &HashOptions,
    signer: &Signer,
    progress: &dyn Progress,
) -> Result<(Manifest, Vec<u8>), Error> {
    let manifest = hash_model(model, options, progress)?;
    let bundle = sign_manifest(&manifest, signer)?;
    Ok((manifest, bundle))
}
