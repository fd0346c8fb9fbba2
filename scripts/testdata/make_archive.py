"""Write container test inputs for crates/archive with Python's zipfile,
tarfile, gzip, bz2, lzma and zlib, including the anomalies a scanner must
see, and beside each input `<stem>.expected.json`: what Python's own readers
report (zip members from zipfile.infolist, tar members from
tarfile.getmembers, stream contents from the decompressors), plus the
anomalies and errors this generator planted.

    python3 scripts/testdata/make_archive.py

Expected JSON, by "container":
  zip:    {"members": [{name, method, flags, crc32, compressed_size,
           uncompressed_size, header_offset, data_offset}], "anomalies":
           [AnomalyKind variant names, sorted], "reads": [{"size", "crc32"} or
           {"error": Error variant}]}  or {"error": variant} when parse fails
  tar:    {"members": [{name, size, data_offset, kind, target}]} or {"error"}
  stream: {"kind", "size", "crc32"} or {"kind", "error"}; bombs also give
          "tight_error", the error under a 1 MiB member limit with no ratio
          limit (LimitExceeded is expected with the ratio limit, 200, under
          the default limits, and with 1 MiB under the tight ones)
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
EXTENSIONS = {"gzip": "gz", "bzip2": "bz2", "xz": "xz", "lzma": "lzma", "zlib": "zlib"}
DATE = (2024, 1, 1, 0, 0, 0)
S, D = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED


def path(sub, name):
    return os.path.join(ROOT, sub, name)


def write(sub, name, data, expected):
    with open(path(sub, name), "wb") as f:
        f.write(data)
    stem = name.rsplit(".", 1)[0]
    assert not os.path.exists(path(sub, stem + ".expected.json")), name
    with open(path(sub, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def make_zip(members, comment=b""):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w") as z:
            for name, data, method in members:
                z.writestr(zipfile.ZipInfo(name, DATE), data, compress_type=method)
            z.comment = comment
    return bytearray(buf.getvalue())


def python_zip_facts(data):
    """Members as zipfile lists them, with the data offset from each local header."""
    members, reads = [], []
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        for info in z.infolist():
            at = info.header_offset
            local = bytes(data[at:at + 30])
            if len(local) == 30 and local[:4] == b"PK\x03\x04":
                name_len, extra_len = struct.unpack("<HH", local[26:30])
                data_offset = at + 30 + name_len + extra_len
            else:
                data_offset = None
            members.append({"name": info.filename, "method": info.compress_type, "flags": info.flag_bits,
                            "crc32": info.CRC, "compressed_size": info.compress_size,
                            "uncompressed_size": info.file_size, "header_offset": at,
                            "data_offset": data_offset})
            try:
                content = z.read(info)
                reads.append({"size": len(content), "crc32": zlib.crc32(content)})
            except Exception as e:  # filled in by the caller
                reads.append({"python_error": type(e).__name__})
    return members, reads


def zip_case(sub, name, data, anomalies=(), reads=None):
    members, python_reads = python_zip_facts(data)
    for i, read in (reads or {}).items():
        python_reads[i] = read
    assert all("python_error" not in r for r in python_reads), (name, python_reads)
    write(sub, name, bytes(data), {"container": "zip", "members": members,
                                   "anomalies": sorted(anomalies), "reads": python_reads})


def central_entries(data):
    """Offsets of the central directory entries."""
    out, at = [], data.find(b"PK\x01\x02")
    while at != -1:
        out.append(at)
        at = data.find(b"PK\x01\x02", at + 4)
    return out


def zips():
    plain = make_zip([("archive/data.pkl", PAYLOAD, S), ("archive/data/0", PAYLOAD, D), ("dir/", b"", S)])
    zip_case("ok", "plain.zip", plain)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("a.bin", DATE)
        info.compress_type = D
        with z.open(info, "w", force_zip64=True) as f:
            f.write(PAYLOAD)
        z.writestr(zipfile.ZipInfo("b.bin", DATE), b"small", compress_type=S)
    zip64 = bytearray(buf.getvalue())
    zip_case("ok", "zip64.zip", zip64)
    zip_case("ok", "nested.zip", make_zip([("inner.zip", bytes(plain), S)]))
    zip_case("ok", "empty.zip", make_zip([]))
    zip_case("ok", "comment.zip", make_zip([("a.txt", b"hello", D)], comment=b"an archive comment"))
    zip_case("ok", "utf8_name.zip", make_zip([("données/è.npy", b"x", S)]))

    # Written to an unseekable stream: sizes go in a data descriptor (flag bit 3).
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buf += b
            return len(b)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w") as z:
        with z.open(zipfile.ZipInfo("streamed.bin", DATE), "w") as f:
            f.write(PAYLOAD)
    zip_case("ok", "data_descriptor.zip", stream.buf)

    # Anomalies.
    zip_case("malicious", "duplicate.zip", make_zip([("a.pkl", b"one", S), ("a.pkl", b"two", S)]),
             ["DuplicateName"])
    zip_case("malicious", "traversal.zip",
             make_zip([("../../evil.pkl", b"x", S), ("/etc/cron.d/x", b"y", S), ("C:\\win.ini", b"z", S),
                       ("ok/../../up.pkl", b"w", S)]),
             ["UnsafeName"] * 4)
    data = make_zip([("benign.pkl", b"safe", S)])
    data[30:30 + len("benign.pkl")] = b"evil00.pkl"  # local name differs from the directory's
    zip_case("malicious", "mismatch_name.zip", data, ["HeaderMismatch"],
             {0: {"size": 4, "crc32": zlib.crc32(b"safe")}})
    data = make_zip([("a.pkl", b"abcdef", S)])
    data[18:26] = struct.pack("<II", 2, 2)  # local sizes say 2 bytes
    zip_case("malicious", "mismatch_size.zip", data, ["HeaderMismatch", "HeaderMismatch"])
    data = make_zip([("a.pkl", b"abc", S)])
    cd = central_entries(data)[0]
    data[6] |= 1
    data[cd + 8] |= 1
    zip_case("malicious", "encrypted.zip", data, ["Encrypted"], {0: {"error": "Encrypted"}})
    data = make_zip([("a.pkl", b"abc", S)])
    cd = central_entries(data)[0]
    data[7] |= 0x20  # bit 13: central directory encryption
    data[cd + 9] |= 0x20
    zip_case("malicious", "unusual_flags.zip", data, ["UnusualFlags"])
    zip_case("malicious", "prepended.zip", b"#!/bin/sh\necho hi\n" + plain, ["PrependedData"])
    zip_case("malicious", "prepended_zip64.zip", b"MZ" + bytes(62) + zip64, ["PrependedData"])
    zip_case("malicious", "trailing.zip", plain + b"extra bytes after the end", ["TrailingData"])
    # Two directory entries pointing at one local header (overlapping zip bomb layout).
    data = make_zip([("a.pkl", b"first", S), ("b.pkl", b"other", S)])
    cd = central_entries(data)
    data[cd[1] + 42:cd[1] + 46] = struct.pack("<I", 0)
    zip_case("malicious", "overlap.zip", data, ["Overlap", "HeaderMismatch"],
             {1: {"error": "BadData"}})  # a's bytes under b's CRC-32
    data = make_zip([("a.pkl", b"one", S), ("b.pkl", b"two", S)])
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8:eocd + 12] = struct.pack("<HH", 1, 1)
    zip_case("malicious", "count_mismatch.zip", data, ["CountMismatch"])
    # A deflate bomb: 10 MB of zeros in about 10 KB.
    zip_case("malicious", "zip_bomb.zip", make_zip([("zeros.bin", bytes(10_000_000), D)]), [],
             {0: {"error": "LimitExceeded"}})

    # Errors.
    data = make_zip([("a.pkl", b"abcdef", S)])
    cd = central_entries(data)[0]
    data[cd + 20:cd + 24] = struct.pack("<I", 1 << 30)  # compressed size past the end
    data[cd + 24:cd + 28] = struct.pack("<I", 1 << 30)
    zip_case("err", "beyond_eof.zip", data, ["HeaderMismatch", "HeaderMismatch", "OutOfBounds"],
             {0: {"error": "Truncated"}})
    data = make_zip([("a.pkl", b"abcdef" * 10, zipfile.ZIP_BZIP2)])
    zip_case("err", "bzip2_method.zip", data, [], {0: {"error": "UnsupportedMethod"}})
    data = make_zip([("a.pkl", b"abcdef", S)])
    data[30 + len("a.pkl")] ^= 0xFF  # flip a data byte
    zip_case("err", "bad_crc.zip", data, [], {0: {"error": "BadData"}})
    write("err", "no_end_record.zip", bytes(plain[:-22]), {"container": "zip", "error": "NoEndOfCentralDirectory"})
    data = bytearray(plain)
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 12:eocd + 16] = struct.pack("<I", 1 << 20)  # directory larger than the file
    write("err", "huge_directory.zip", bytes(data), {"container": "zip", "error": "Corrupt"})


def tars():
    def tar(fmt, entries):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            for info, content in entries:
                info.mtime = 0
                if content is not None:
                    info.size = len(content)
                    t.addfile(info, io.BytesIO(content))
                else:
                    t.addfile(info)
        return buf.getvalue()

    def file(name, content):
        return tarfile.TarInfo(name), content

    def special(name, kind, link=""):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        return info, None

    kinds = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "directory",
             tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}

    def case(sub, name, data):
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            members = [{"name": m.name,
                        "size": m.size if m.isreg() else 0, "data_offset": m.offset_data,
                        "kind": kinds.get(m.type, "other"), "target": m.linkname or None}
                       for m in t.getmembers()]
        write(sub, name, data, {"container": "tar", "members": members})

    long = "d" * 120 + "/long_name.pkl"
    basic = [file("storages", PAYLOAD), file(long, b"long")]
    case("ok", "gnu.tar", tar(tarfile.GNU_FORMAT, basic))
    case("ok", "pax.tar", tar(tarfile.PAX_FORMAT, basic + [file("caf\u00e9 \u2603.pkl", b"unicode")]))
    case("ok", "ustar.tar", tar(tarfile.USTAR_FORMAT, [file("p" * 90 + "/" + "n" * 90, b"prefix split")]))
    case("ok", "kinds.tar", tar(tarfile.GNU_FORMAT, [special("dir", tarfile.DIRTYPE), file("dir/a", b"a"),
                                                     special("dir/hard", tarfile.LNKTYPE, "dir/a"),
                                                     special("dir/soft", tarfile.SYMTYPE, "a")]))
    case("malicious", "symlink.tar", tar(tarfile.GNU_FORMAT, basic + [special("link", tarfile.SYMTYPE, "/etc/passwd")]))
    case("malicious", "tar_traversal.tar", tar(tarfile.GNU_FORMAT, [file("../../evil.pkl", b"x"), file("/abs.pkl", b"y")]))
    good = tar(tarfile.GNU_FORMAT, basic)
    bad = bytearray(good)
    bad[0] ^= 0xFF
    write("err", "bad_checksum.tar", bytes(bad), {"container": "tar", "error": "Corrupt"})
    write("err", "truncated.tar", good[:512 + 100], {"container": "tar", "error": "Truncated"})


def streams():
    def case(sub, name, kind, data, content=None, error=None, tight_error=None):
        expected = {"container": "stream", "kind": kind}
        if content is not None:
            expected.update(size=len(content), crc32=zlib.crc32(content))
        if error:
            expected["error"] = error
        if tight_error:
            expected["tight_error"] = tight_error
        write(sub, name, data, expected)

    makers = {
        "gzip": lambda b: gzip.compress(b, mtime=0),
        "bzip2": bz2.compress,
        "xz": lzma.compress,
        "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
        "zlib": zlib.compress,
    }
    for kind, make in makers.items():
        data = make(PAYLOAD)
        assert {"gzip": gzip.decompress, "bzip2": bz2.decompress, "xz": lzma.decompress,
                "lzma": lzma.decompress, "zlib": zlib.decompress}[kind](data) == PAYLOAD
        case("ok", kind + "." + EXTENSIONS[kind], kind, data, content=PAYLOAD)
        case("err", "truncated_" + kind + "." + EXTENSIONS[kind], kind, data[:len(data) * 2 // 3], error="BadData")
    two = gzip.compress(b"first ", mtime=0) + gzip.compress(b"second", mtime=0)
    case("ok", "multi_member.gz", "gzip", two, content=gzip.decompress(two))
    # Bombs: 10 MB of zeros; past the ratio limit by default, past the size limit when tight.
    zeros = bytes(10_000_000)
    case("malicious", "gzip_bomb.gz", "gzip", gzip.compress(zeros, mtime=0), error="LimitExceeded",
         tight_error="LimitExceeded")
    case("malicious", "bzip2_bomb.bz2", "bzip2", bz2.compress(zeros), error="LimitExceeded", tight_error="LimitExceeded")
    case("malicious", "xz_bomb.xz", "xz", lzma.compress(zeros), error="LimitExceeded", tight_error="LimitExceeded")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    zips()
    tars()
    streams()


if __name__ == "__main__":
    main()
