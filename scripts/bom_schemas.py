"""Extract the official CycloneDX 1.6 JSON schema, and the schemas it
references, from the cyclonedx-python-lib wheel into crates/bom/tests/schema/,
where modelgate-bom's tests validate every BOM they build against them.

    python3 scripts/bom_schemas.py

    MODELGATE_WHEELS  where the wheel is cached (default: ~/.cache/modelgate/wheels);
                      it is fetched with `pip download --no-deps` when absent

The wheel ships the schemas under `*.SNAPSHOT.schema.json` names and has
rewritten the `$ref`s between them to match; this script gives the files back
their official names (`bom-1.6.schema.json`, `spdx.schema.json`,
`jsf-0.82.schema.json`: whatever the bom schema references, transitively) and
rewrites every mention of the snapshot names (the `$ref`s and one description)
back, so each file is otherwise byte for byte the wheel's. It also writes NOTICE.md (source, version, license, changes).
Idempotent; the output is committed as test data.
"""
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "cyclonedx-python-lib"
VERSION = "11.12.0"
WHEEL = f"cyclonedx_python_lib-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "0e807521a921a5c3cb8ce1153f8a61d29eedfe76a46aac2796b7c6b573391a54"
RES = "cyclonedx/schema/_res/"
ROOT_SCHEMA = "bom-1.6.schema.json"
SNAPSHOT = ".SNAPSHOT.schema.json"
OUT = Path(__file__).resolve().parent.parent / "crates" / "bom" / "tests" / "schema"
# A "$ref" whose target is another file (not "#/..." inside this one).
EXTERNAL_REF = re.compile(r'"\$ref"\s*:\s*"([^"#]+)')
# The wheel's renaming, undone: every mention of a snapshot file name.
SNAPSHOT_NAME = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9.\-]*)\.SNAPSHOT\.schema\.json\b")


def wheel_path() -> Path:
    cache = Path(os.environ.get("MODELGATE_WHEELS", Path.home() / ".cache" / "modelgate" / "wheels"))
    path = cache / WHEEL
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"bom_schemas: downloading {PACKAGE}=={VERSION}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--dest", str(cache), f"{PACKAGE}=={VERSION}"],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"bom_schemas: {path} has sha256 {digest}, expected {WHEEL_SHA256}")
    return path


def snapshot_name(name: str) -> str:
    """`spdx.schema.json` -> `spdx.SNAPSHOT.schema.json`, the wheel's name."""
    return name[: -len(".schema.json")] + SNAPSHOT


def main() -> None:
    wheel = wheel_path()
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as zf:
        readme = zf.read(RES + "README.md").decode()
        commit = re.search(r"commit/([0-9a-f]{40})", readme)
        pending, seen = [ROOT_SCHEMA], set()
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.add(name)
            text = SNAPSHOT_NAME.sub(r"\1.schema.json", zf.read(RES + snapshot_name(name)).decode())
            pending.extend(EXTERNAL_REF.findall(text))
            (OUT / name).write_text(text, encoding="utf-8", newline="")
            written.append(name)
        notice = zf.read(f"cyclonedx_python_lib-{VERSION}.dist-info/licenses/NOTICE").decode()

    files = "\n".join(f"- `{n}` (from `{RES}{snapshot_name(n)}`)" for n in written)
    upstream = (
        f"[CycloneDX/specification@{commit.group(1)[:12]}]"
        f"(https://github.com/CycloneDX/specification/tree/{commit.group(1)}/schema)"
        if commit else "[CycloneDX/specification](https://github.com/CycloneDX/specification/tree/master/schema)"
    )
    (OUT / "NOTICE.md").write_text(
        f"""# CycloneDX JSON schemas (test data)

Written by `scripts/bom_schemas.py`; do not edit by hand, run the script.

- Source: the PyPI wheel `{WHEEL}` ({PACKAGE} {VERSION}),
  sha256 `{WHEEL_SHA256}`.
- Upstream: the OWASP CycloneDX specification's JSON schemas, as vendored by
  that wheel from {upstream}.
- License: Apache-2.0 (the wheel's license, and the license the schemas
  themselves declare in their `$comment`).

Files:

{files}

Changes from the official schemas, as documented in the wheel's
`{RES}README.md`: cyclonedx-python-lib removed the enum of
`properties.$schema`, removed `version` from `required` (it is optional with a
default) and removed `"pattern": "^(.*)$"` patterns (which match anything).
It also renamed the files to `*.SNAPSHOT.schema.json` and rewrote every mention
of their names; this script renames them back and undoes that rewrite, so the
`$ref`s resolve against the `$id`s the schemas declare
(`http://cyclonedx.org/schema/...`). Nothing else is changed.

The wheel's NOTICE:

```text
{notice.strip()}
```
""",
        encoding="utf-8",
    )
    print(f"bom_schemas: wrote {', '.join(written)} and NOTICE.md to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
