"""Write one small pickle per callable of the standard-library modules that
run processes, open files or sockets, import by name or evaluate code, each
importing the callable and invoking it, for crates/scan/tests/real_writers.rs:
every case must fail the default gate (`high` or above), and a private name
(leading underscore) must be `critical`.

    python3 scripts/testdata/make_stdlib_calls.py OUTDIR
    python3 scripts/testdata/make_stdlib_calls.py --stdlib-modules FILE

The callables are enumerated at run time with `dir` and `callable` (functions,
classes, builtin functions, bound methods reachable as module attributes), so
a newer Python adds cases by itself. Each is named as the module it was
enumerated from plus the attribute name; where pickle itself would name it
differently (`os.system` is `posix.system` to pickle), that name is written
too. Variants, assembled opcode by opcode:

- every callable: GLOBAL + REDUCE (protocol 2) on ('id',);
- a sample (every fifth per module, and every private name): STACK_GLOBAL +
  REDUCE (protocol 4, framed);
- classes also: NEWOBJ, NEWOBJ_EX, OBJ, INST, and NEWOBJ of the class with no
  arguments followed by BUILD of a state dict (runs __setstate__).

OUTDIR/manifest.jsonl: one JSON object per file: file, module, name, opcode
(the invoking opcode), import (GLOBAL, STACK_GLOBAL or INST), protocol,
private (the name has a leading underscore) and spelling (`enumerated`: the
module enumerated, or `pickle`: the name pickle's save_global would write). Idempotent: OUTDIR/.stamp holds this script's hash and the Python
version.

--stdlib-modules FILE rewrites FILE (crates/scan/rules/stdlib_modules.txt):
every top-level standard-library module name, one a line, sorted: the union
of the file's current names, `sys.stdlib_module_names`, Python 2 names and
modules removed from newer Pythons, so regenerating never drops a name.
"""
import hashlib
import importlib
import json
import os
import pkgutil
import shutil
import struct
import sys
import warnings

# The modules enumerated; packages marked with a trailing `.*` also get every
# submodule that imports on this platform.
MODULES = (
    "os", "subprocess", "shutil", "socket", "pty", "logging.*", "uuid", "imaplib", "smtplib", "ftplib",
    "http.*", "urllib.*", "ctypes.*", "importlib.*", "pkgutil", "runpy", "code", "pdb", "tempfile",
    "multiprocessing.*", "asyncio.subprocess", "webbrowser", "zipimport", "builtins",
)

# Python 2 standard-library names, still written by old pickles and
# resolved by Python 3's pickle through its compatibility mapping.
PYTHON2_MODULES = (
    "__builtin__", "copy_reg", "commands", "cPickle", "cStringIO", "StringIO", "urllib2", "urlparse",
    "httplib", "HTMLParser", "Cookie", "cookielib", "BaseHTTPServer", "SimpleHTTPServer",
    "CGIHTTPServer", "SocketServer", "ConfigParser", "Queue", "repr", "thread", "dummy_thread",
    "dummy_threading", "anydbm", "dbhash", "dumbdbm", "gdbm", "whichdb", "dircache", "popen2", "sets",
    "md5", "sha", "new", "mimetools", "rfc822", "posixfile", "exceptions", "xmlrpclib",
    "SimpleXMLRPCServer", "DocXMLRPCServer", "Tkinter", "tkMessageBox", "tkFileDialog", "robotparser",
    "htmlentitydefs", "user", "mutex", "imputil", "ihooks", "statvfs", "sgmllib", "htmllib",
    "UserDict", "UserList", "UserString", "markupbase", "cProfile", "copy_reg", "ttk", "Tix",
    "ScrolledText", "FileDialog", "SimpleDialog", "Dialog", "Canvas", "urllib", "itertools",
    "_winreg", "string", "md5", "sha", "cgi", "compiler", "hotshot", "bsddb", "dl", "imageop",
    "audiodev", "fpformat", "multifile", "mhlib", "MimeWriter", "mimify", "toaiff",
)

# Removed from newer Pythons (PEP 594, distutils, imp, asynchat...); old
# pickles and old interpreters still name them.
REMOVED_MODULES = (
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt", "distutils", "imghdr",
    "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr",
    "spwd", "sunau", "telnetlib", "uu", "xdrlib", "binhex", "formatter", "parser", "symbol",
    "macpath", "_bootlocale", "_dummy_thread", "dummy_threading", "tkinter.tix",
)


def modules():
    """The module names to enumerate, submodules included."""
    names = []
    for spec in MODULES:
        package = spec.removesuffix(".*")
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        names.append(package)
        if spec.endswith(".*") and hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                parts = info.name.split(".")
                if any(p in ("test", "tests") or p.startswith("test_") for p in parts):
                    continue
                try:
                    importlib.import_module(info.name)
                except Exception:  # Windows-only or optional submodules
                    continue
                names.append(info.name)
    return names


def callables(module_name):
    module = importlib.import_module(module_name)
    for name in sorted(dir(module)):
        try:
            obj = getattr(module, name)
        except Exception:
            continue
        if callable(obj):
            yield name, obj


def pickle_name(obj):
    """How pickle's save_global names obj, when it can."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if "<" in qualname or "." in qualname:
        return None
    try:
        if getattr(importlib.import_module(module), qualname) is not obj:
            return None
    except Exception:
        return None
    return module, qualname


# ---------------------------------------------------------------------------
# Opcode assembly (pickletools' names; see Lib/pickletools.py).

ARG = "id"


def unicode(text):
    data = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def short_unicode(text):
    data = text.encode("utf-8")
    return b"\x8c" + bytes([len(data)]) + data + b"\x94"  # SHORT_BINUNICODE, MEMOIZE


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def framed(body):
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


def reduce_p2(module, name):
    return b"\x80\x02" + glob(module, name) + unicode(ARG) + b"\x85R."


def reduce_p4_stack_global(module, name):
    body = short_unicode(module) + short_unicode(name) + b"\x93\x94" + short_unicode(ARG) + b"\x85\x94R\x94."
    return framed(body)


def newobj(module, name):
    return b"\x80\x02" + glob(module, name) + unicode(ARG) + b"\x85\x81."


def newobj_ex(module, name):
    body = short_unicode(module) + short_unicode(name) + b"\x93\x94" + short_unicode(ARG) + b"\x85\x94}\x94\x92\x94."
    return framed(body)


def obj(module, name):
    # Protocol 1 as pickle writes it: no PROTO opcode.
    return b"(" + glob(module, name) + unicode(ARG) + b"o."


def inst(module, name):
    return b"(S'" + ARG.encode() + b"'\ni" + module.encode() + b"\n" + name.encode() + b"\n."


def build(module, name):
    return b"\x80\x02" + glob(module, name) + b")\x81}" + unicode("cmd") + unicode(ARG) + b"sb."


FUNCTION_VARIANTS = (("REDUCE", "GLOBAL", 2, reduce_p2),)
SAMPLE_VARIANTS = (("REDUCE", "STACK_GLOBAL", 4, reduce_p4_stack_global),)
CLASS_VARIANTS = (
    ("NEWOBJ", "GLOBAL", 2, newobj),
    ("NEWOBJ_EX", "STACK_GLOBAL", 4, newobj_ex),
    ("OBJ", "GLOBAL", 1, obj),
    ("INST", "INST", 0, inst),
    ("BUILD", "GLOBAL", 2, build),
)


def safe_file_part(text):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def write_cases(root):
    import pickletools
    os.makedirs(root)
    seen = set()
    n_cases = 0
    with open(os.path.join(root, "manifest.jsonl"), "w") as manifest:
        def case(module, name, variant, index, spelling):
            nonlocal n_cases
            opcode, imported, protocol, assemble = variant
            data = assemble(module, name)
            # Every case must be a well-formed pickle.
            for _ in pickletools.genops(data):
                pass
            rel = f"{safe_file_part(module)}/{index:04d}.{safe_file_part(name)}.{opcode}.{imported}.pkl"
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            manifest.write(json.dumps({"file": rel, "module": module, "name": name, "opcode": opcode,
                                       "import": imported, "protocol": protocol,
                                       "private": name.startswith("_"), "spelling": spelling}) + "\n")
            n_cases += 1

        for module_name in modules():
            for index, (name, value) in enumerate(callables(module_name)):
                spellings = [(module_name, name, "enumerated")]
                alias = pickle_name(value)
                if alias and alias != (module_name, name) and alias[0].split(".")[0] in sys.stdlib_module_names:
                    spellings.append((*alias, "pickle"))
                for module, attr, spelling in spellings:
                    if (module, attr) in seen:
                        continue
                    seen.add((module, attr))
                    variants = list(FUNCTION_VARIANTS)
                    if index % 5 == 0 or attr.startswith("_"):
                        variants += SAMPLE_VARIANTS
                    if isinstance(value, type):
                        variants += CLASS_VARIANTS
                    for variant in variants:
                        case(module, attr, variant, index, spelling)
    return n_cases


def write_stdlib_modules(path):
    names = set(sys.stdlib_module_names) | set(PYTHON2_MODULES) | set(REMOVED_MODULES)
    if os.path.exists(path):
        with open(path) as f:
            names |= {line.strip() for line in f if line.strip() and not line.startswith("#")}
    names = {n.split(".")[0] for n in names}
    with open(path, "w") as f:
        f.write("# Top-level standard-library module names (Python 3 and 2), one a line.\n")
        f.write("# Written by scripts/testdata/make_stdlib_calls.py --stdlib-modules; regenerate, do not edit.\n")
        for name in sorted(names):
            f.write(name + "\n")
    return len(names)


def main(argv):
    if len(argv) == 3 and argv[1] == "--stdlib-modules":
        print(f"{write_stdlib_modules(argv[2])} module names in {argv[2]}", file=sys.stderr)
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    with open(__file__, "rb") as f:
        stamp_text = json.dumps({"script": hashlib.sha256(f.read()).hexdigest(), "python": sys.version})
    stamp = os.path.join(root, ".stamp")
    if os.path.exists(stamp) and open(stamp).read() == stamp_text:
        return 0
    shutil.rmtree(root, ignore_errors=True)
    warnings.simplefilter("ignore")
    n_cases = write_cases(root)
    with open(stamp, "w") as f:
        f.write(stamp_text)
    print(f"stdlib calls: {n_cases} cases in {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
