#![no_main]
//! The signature file parser (Sigstore bundle, DSSE envelope, in-toto
//! statement) and the signature and certificate-chain checks behind it.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelgate_signing::{
    BUNDLE_MEDIA_TYPE, Bundle, Certificate, Manifest, PAYLOAD_TYPE, PublicKey, Trust, verify_bundle,
};

struct TrustedMaterial {
    keys: Vec<PublicKey>,
    authorities: Vec<Certificate>,
}

fn trusted() -> &'static TrustedMaterial {
    static TRUSTED: OnceLock<TrustedMaterial> = OnceLock::new();
    TRUSTED.get_or_init(|| TrustedMaterial {
        keys: [
            include_str!("../../crates/signing/tests/data/keys/p256.pub.pem"),
            include_str!("../../crates/signing/tests/data/keys/p384.pub.pem"),
        ]
        .iter()
        .map(|pem| PublicKey::from_pem(pem).expect("test key"))
        .collect(),
        authorities: [
            include_str!("../../crates/signing/tests/data/keys/root.pem"),
            include_str!("../../crates/signing/tests/data/upstream/keys/ca-cert.pem"),
        ]
        .iter()
        .flat_map(|pem| Certificate::from_pem(pem).expect("test certificate"))
        .collect(),
    })
}

/// Standard padded base64, as a bundle carries DER certificates.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |group, (i, &b)| group | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let trusted = trusted();
    if let Ok(bundle) = Bundle::parse(data) {
        let _ = bundle.signer();
        if let Ok(manifest) = bundle.unverified_manifest() {
            let _ = manifest.files();
            // What parses writes back to the same manifest.
            let again = Manifest::from_statement_json(&manifest.statement_json());
            assert_eq!(again.ok().as_ref(), Some(&manifest));
        }
        let _ = verify_bundle(&bundle, Trust::Keys(&trusted.keys));
        let _ = verify_bundle(&bundle, Trust::CertificateAuthorities(&trusted.authorities));
    }
    // The bytes as a DER certificate, alone and as the signing certificate
    // of a bundle: the chain checks read its extensions before any
    // signature is checked.
    if let Ok(certificate) = Certificate::from_der(data) {
        let _ = certificate.public_key();
        let bundle = format!(
            r#"{{"mediaType":"{BUNDLE_MEDIA_TYPE}","verificationMaterial":{{"x509CertificateChain":{{"certificates":[{{"rawBytes":"{}"}}]}}}},"dsseEnvelope":{{"payload":"","payloadType":"{PAYLOAD_TYPE}","signatures":[{{"sig":""}}]}}}}"#,
            base64(data)
        );
        if let Ok(bundle) = Bundle::parse(bundle.as_bytes()) {
            let _ = verify_bundle(&bundle, Trust::CertificateAuthorities(&trusted.authorities));
        }
    }
    // The statement alone, and the PEM readers, on the same bytes.
    let _ = Manifest::from_statement_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PublicKey::from_pem(text);
        let _ = Certificate::from_pem(text);
    }
});
