"""Write container test inputs with Python's zipfile, tarfile, gzip, bz2,
lzma and zlib, including the anomalies scanners must see, plus what Python
reads from each, for crates/archive tests.

    python3 scripts/testdata/make_archive.py
"""
import bz2
import gzip
import io
import json
import lzma
import os
import shutil
import struct
import tarfile
import warnings
import zipfile
import zlib

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "archive")
PAYLOAD = b"model bytes " * 50


def path(sub, name):
    return os.path.join(ROOT, sub, name)


def write_zip(name, members, sub="ok"):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as z:
            for member, data, method in members:
                z.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    open(path(sub, name), "wb").write(buf.getvalue())
    return buf.getvalue()


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    S, D = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
    plain = write_zip("plain.zip", [("archive/data.pkl", PAYLOAD, S), ("archive/data/0", PAYLOAD, D), ("dir/", b"", S)])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("a.bin", (2024, 1, 1, 0, 0, 0))
        info.compress_type = D
        with z.open(info, "w", force_zip64=True) as f:
            f.write(PAYLOAD)
    open(path("ok", "zip64.zip"), "wb").write(buf.getvalue())
    write_zip("nested.zip", [("inner.zip", plain, S)])
    expected = {}
    for name in ("plain.zip", "zip64.zip", "nested.zip"):
        with zipfile.ZipFile(path("ok", name)) as z:
            expected[name] = [{"name": i.filename, "method": i.compress_type, "size": i.file_size,
                               "compressed": i.compress_size, "crc": i.CRC} for i in z.infolist()]
    json.dump(expected, open(path("ok", "zip.expected.json"), "w"), indent=1)

    # Anomalies.
    write_zip("duplicate.zip", [("a.pkl", b"one", S), ("a.pkl", b"two", S)], sub="malicious")
    write_zip("traversal.zip", [("../../evil.pkl", b"x", S), ("/etc/cron.d/x", b"y", S), ("C:\\win.ini", b"z", S)], sub="malicious")
    data = bytearray(write_zip("mismatch.zip", [("benign.pkl", b"safe", S)], sub="malicious"))
    data[30:30 + len("benign.pkl")] = b"evil00.pkl"  # local name differs from the directory's
    open(path("malicious", "mismatch.zip"), "wb").write(bytes(data))
    data = bytearray(write_zip("encrypted.zip", [("a.pkl", b"abc", S)], sub="malicious"))
    cd = data.rfind(b"PK\x01\x02")
    data[6] |= 1
    data[cd + 8] |= 1
    open(path("malicious", "encrypted.zip"), "wb").write(bytes(data))
    open(path("malicious", "prepended.zip"), "wb").write(b"#!/bin/sh\necho hi\n" + plain)
    open(path("malicious", "trailing.zip"), "wb").write(plain + b"extra bytes after the end")
    # A deflate bomb: 20 MB of zeros.
    write_zip("bomb.zip", [("zeros.bin", bytes(20_000_000), D)], sub="malicious")

    # Tar: plain, long names (GNU and pax), links.
    def tar(name, fmt, extra=()):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            for member, content in [("storages", PAYLOAD), ("d" * 120 + "/long_name.pkl", b"long")]:
                info = tarfile.TarInfo(member)
                info.size = len(content)
                info.mtime = 0
                t.addfile(info, io.BytesIO(content))
            for info in extra:
                t.addfile(info)
        return buf.getvalue()
    open(path("ok", "gnu.tar"), "wb").write(tar("gnu", tarfile.GNU_FORMAT))
    open(path("ok", "pax.tar"), "wb").write(tar("pax", tarfile.PAX_FORMAT))
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    open(path("malicious", "symlink.tar"), "wb").write(tar("l", tarfile.GNU_FORMAT, [link]))
    good_tar = open(path("ok", "gnu.tar"), "rb").read()
    bad = bytearray(good_tar)
    bad[0] ^= 0xFF
    open(path("err", "bad_checksum.tar"), "wb").write(bytes(bad))

    # Streams.
    open(path("ok", "payload.gz"), "wb").write(gzip.compress(PAYLOAD, mtime=0))
    open(path("ok", "payload.bz2"), "wb").write(bz2.compress(PAYLOAD))
    open(path("ok", "payload.xz"), "wb").write(lzma.compress(PAYLOAD))
    open(path("ok", "payload.lzma"), "wb").write(lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE))
    open(path("ok", "payload.zlib"), "wb").write(zlib.compress(PAYLOAD))
    open(path("malicious", "bomb.gz"), "wb").write(gzip.compress(bytes(20_000_000), mtime=0))
    open(path("err", "truncated.gz"), "wb").write(gzip.compress(PAYLOAD, mtime=0)[:-5])


if __name__ == "__main__":
    main()
