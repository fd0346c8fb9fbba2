"""Write the test keys and certificates in tests/data/keys/ (run once;
the outputs are committed). Uses Python's `cryptography`, the library
model_signing itself loads keys and certificates with.

    $MODELGATE_PYTHON crates/signing/tests/data/make_keys.py

Test material only: these private keys are public.
"""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keys")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def private_pem(key, fmt=serialization.PrivateFormat.PKCS8):
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def when(year):
    return datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc)


def certificate(subject, key, issuer_name, issuer_key, serial, start, end, ca, usage, eku=None,
                path_length=None, hash_alg=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(when(start))
        .not_valid_after(when(end))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hash_alg or hashes.SHA256())


def ca_usage():
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)


def signing_usage():
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Keys for the key method.
    for name, curve in [("p256", ec.SECP256R1()), ("p384", ec.SECP384R1()),
                        ("p521", ec.SECP521R1()), ("other", ec.SECP256R1())]:
        key = ec.generate_private_key(curve)
        write(f"{name}.pem", private_pem(key))
        write(f"{name}.pub.pem", public_pem(key))
        if name == "p256":
            write("p256.sec1.pem", private_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))

    # A CA hierarchy for the certificate method: root (P-384) → intermediate
    # (P-256) → signing certificates.
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = certificate("modelgate test root", root_key, "modelgate test root", root_key, 1,
                       2000, 2100, True, ca_usage(), hash_alg=hashes.SHA384())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = certificate("modelgate test intermediate", inter_key, "modelgate test root", root_key,
                        2, 2000, 2100, True, ca_usage(), path_length=0, hash_alg=hashes.SHA384())
    write("root.pem", pem(root))
    write("intermediate.pem", pem(inter))

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    write("leaf.pem", private_pem(leaf_key))
    write("leaf.cert.pem", pem(certificate(
        "modelgate test signer", leaf_key, "modelgate test intermediate", inter_key, 3,
        2020, 2120, False, signing_usage(), [ExtendedKeyUsageOID.CODE_SIGNING])))
    # Expired long ago, but valid when issued: model_signing accepts it.
    write("leaf_old.cert.pem", pem(certificate(
        "modelgate old signer", leaf_key, "modelgate test intermediate", inter_key, 4,
        2001, 2002, False, signing_usage())))
    # Neither digitalSignature nor codeSigning.
    write("leaf_no_usage.cert.pem", pem(certificate(
        "modelgate no-usage signer", leaf_key, "modelgate test intermediate", inter_key, 5,
        2020, 2120, False, x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False))))
    # Issued by a certificate that is not a CA.
    not_ca_key = ec.generate_private_key(ec.SECP256R1())
    write("not_ca.pem", pem(certificate(
        "modelgate not a ca", not_ca_key, "modelgate test root", root_key, 6, 2000, 2100,
        False, signing_usage(), hash_alg=hashes.SHA384())))
    write("leaf_under_not_ca.cert.pem", pem(certificate(
        "modelgate signer under non-ca", leaf_key, "modelgate not a ca", not_ca_key, 7,
        2020, 2120, False, signing_usage())))
    # An intermediate that expired before the signing certificate was issued.
    expired_key = ec.generate_private_key(ec.SECP256R1())
    write("expired_intermediate.pem", pem(certificate(
        "modelgate expired intermediate", expired_key, "modelgate test root", root_key, 8,
        2000, 2001, True, ca_usage(), hash_alg=hashes.SHA384())))
    write("leaf_under_expired.cert.pem", pem(certificate(
        "modelgate signer under expired", leaf_key, "modelgate expired intermediate",
        expired_key, 9, 2020, 2120, False, signing_usage())))
    # An unrelated root, and an RSA hierarchy (RSA CAs with an EC signer, as
    # in model_signing's own test certificates).
    other_key = ec.generate_private_key(ec.SECP256R1())
    write("other_root.pem", pem(certificate(
        "modelgate other root", other_key, "modelgate other root", other_key, 10, 2000, 2100,
        True, ca_usage())))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("rsa_root.pem", pem(certificate(
        "modelgate rsa root", rsa_key, "modelgate rsa root", rsa_key, 11, 2000, 2100, True,
        ca_usage())))
    write("leaf_under_rsa.cert.pem", pem(certificate(
        "modelgate signer under rsa", leaf_key, "modelgate rsa root", rsa_key, 12, 2020, 2120,
        False, signing_usage(), [ExtendedKeyUsageOID.CODE_SIGNING])))


if __name__ == "__main__":
    main()
