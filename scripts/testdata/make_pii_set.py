#!/usr/bin/env python3
"""Write a labelled set of sentences with personal and secret data, and a
control set of the same size without any, for crates/mask/tests/faker.rs.

    make_pii_set.py OUT_DIR [--n N] [--seed SEED]

OUT_DIR/positives.jsonl and OUT_DIR/control.jsonl hold one record a line:
{"text": "...", "spans": [{"start": S, "end": E, "kind": "EMAIL"}, ...]}
with S and E as UTF-8 byte offsets into the text (what the Rust masker
reports). Control records have no spans.

Values come from Faker (locales en_US, en_GB, de_DE, fr_FR, nl_NL) with a
fixed seed: emails, phone numbers, card numbers of several brands (bare,
spaced or dashed), IBANs (compact or in groups of four), US SSNs, IPv4 and
IPv6 addresses. API keys and JWTs are synthesised in each vendor's shape
from the same seeded generator. The sentences around them carry data that
is not personal in the masker's sense (names, cities, dates, prices,
versions, order numbers, hashes), so the positives test precision too.

Left out on purpose, with the reasons in crates/mask/src/detect/card.rs:
Visa 13-digit and Maestro 12-digit card numbers.
"""

import argparse
import base64
import ipaddress
import json
import os
import random
import string

from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"]
CARD_TYPES = [
    "visa16",
    "visa19",
    "mastercard",
    "amex",
    "discover",
    "diners",
    "jcb15",
    "jcb16",
]
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.fakers = {}
        for idx, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed + idx)
            self.fakers[locale] = fake

    def fake(self, locale=None):
        return self.fakers[locale or self.rng.choice(LOCALES)]

    def chars(self, alphabet, n):
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    # -- personal and secret values, by label --------------------------------

    def email(self):
        fake = self.fake()
        return self.rng.choice([fake.email, fake.free_email, fake.company_email])()

    def phone(self):
        locale = self.rng.choice(LOCALES)
        fake = self.fake(locale)
        if locale == "en_GB" and self.rng.random() < 0.3:
            return fake.cellphone_number()
        return fake.phone_number()

    def card(self):
        card_type = self.rng.choice(CARD_TYPES)
        number = self.fake("en_US").credit_card_number(card_type=card_type)
        style = self.rng.choice(["bare", "space", "dash"])
        if style == "bare":
            return number
        sep = " " if style == "space" else "-"
        if len(number) == 15 and number[:2] in ("34", "37"):
            groups = [number[:4], number[4:10], number[10:]]
        elif len(number) == 14:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, len(number), 4)]
        return sep.join(groups)

    def iban(self):
        iban = self.fake(self.rng.choice(["en_GB", "de_DE", "fr_FR", "nl_NL"])).iban()
        if self.rng.random() < 0.5:
            return iban
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))

    def ssn(self):
        return self.fake("en_US").ssn()

    def ip(self):
        fake = self.fake("en_US")
        choice = self.rng.randrange(5)
        if choice == 0:
            return fake.ipv4_public()
        if choice == 1:
            return fake.ipv4_private()
        if choice == 2:
            return fake.ipv4()
        if choice == 3:
            return fake.ipv6()
        # The compressed form people write (`2001:db8::1`).
        return str(ipaddress.IPv6Address(fake.ipv6()))

    def api_key(self):
        vendor = self.rng.randrange(15)
        c = self.chars
        if vendor == 0:
            return "sk-" + c(ALNUM, 48)
        if vendor == 1:
            return "sk-proj-" + c(URLSAFE, 156)
        if vendor == 2:
            return "sk-ant-api03-" + c(URLSAFE, 93) + "AA"
        if vendor <= 5:
            return self.rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + c(ALNUM, 36)
        if vendor == 6:
            return "github_pat_" + c(ALNUM, 22) + "_" + c(ALNUM, 59)
        if vendor == 7:
            return self.rng.choice(["AKIA", "ASIA"]) + c(string.ascii_uppercase + "234567", 16)
        if vendor == 8:
            prefix = "xox" + self.rng.choice("abprs") + "-"
            return prefix + c(string.digits, 12) + "-" + c(string.digits, 13) + "-" + c(ALNUM, 24)
        if vendor == 9:
            return "AIza" + c(URLSAFE, 35)
        if vendor == 10:
            return "glpat-" + c(URLSAFE, 20)
        if vendor == 11:
            return "hf_" + c(string.ascii_letters, 34)
        if vendor == 12:
            return self.rng.choice(["sk_live_", "rk_live_"]) + c(ALNUM, 24)
        return "mg-" + c(ALNUM, 32)

    def jwt(self):
        fake = self.fake()

        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        alg = self.rng.choice(["HS256", "RS256", "ES256"])
        header = json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":"))
        payload = json.dumps(
            {
                "sub": str(fake.random_int(1, 10**9)),
                "name": fake.name(),
                "iat": int(fake.unix_time()),
                "exp": int(fake.unix_time()) + 3600,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        n_sig = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
        signature = bytes(self.rng.randrange(256) for _ in range(n_sig))
        return ".".join([b64(header.encode()), b64(payload.encode()), b64(signature)])

    # -- filler that is not personal data ------------------------------------

    def filler(self):
        fake = self.fake()
        choice = self.rng.randrange(24)
        r = self.rng
        if choice == 0:
            return fake.date()
        if choice == 1:
            return fake.date(pattern="%d.%m.%Y")
        if choice == 2:
            return fake.date(pattern="%B %d, %Y")
        if choice == 3:
            return fake.iso8601()
        if choice == 4:
            return fake.time()
        if choice == 5:
            return self.fake("en_US").pricetag()
        if choice == 6:
            return f"{r.randint(1, 9999)},{r.randint(0, 99):02d} EUR"
        if choice == 7:
            return f"{r.randint(0, 30)}.{r.randint(0, 30)}.{r.randint(0, 99)}"
        if choice == 8:
            return f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 20)}.{r.randint(0, 300)}"
        if choice == 9:
            return fake.address().replace("\n", ", ")
        if choice == 10:
            return f"#{r.randint(10**4, 10**10)}"
        if choice == 11:
            return f"INV-{r.randint(2000, 2030)}-{r.randint(0, 99999):05d}"
        if choice == 12:
            return str(int(fake.unix_time()))
        if choice == 13:
            return fake.uuid4()
        if choice == 14:
            return r.choice([fake.sha256(), fake.sha1(), fake.md5(), fake.sha1()[:7]])
        if choice == 15:
            return "3.14159265358979323846"[: r.randint(4, 22)]
        if choice == 16:
            return "ISBN " + r.choice([fake.isbn13(), fake.isbn10(), fake.isbn10().replace("-", "")])
        if choice == 17:
            return f"{r.randint(0, 100)}.{r.randint(0, 9)}%"
        if choice == 18:
            return f"{fake.latitude()}, {fake.longitude()}"
        if choice == 19:
            return f"{r.randint(1, 999)} {r.choice(['kg', 'km', 'MB', 'ms', 'users', 'rows'])}"
        if choice == 20:
            return fake.postcode()
        if choice == 21:
            return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}-{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"
        if choice == 22:
            return f"{r.randint(1, 9)} {r.randint(0, 999):03d} {r.randint(0, 999):03d}"
        return "EAN " + fake.ean13()

    def name(self):
        return self.fake().name()


KIND_METHODS = [
    ("EMAIL", "email"),
    ("PHONE", "phone"),
    ("CARD", "card"),
    ("IBAN", "iban"),
    ("NATIONAL_ID", "ssn"),
    ("IP", "ip"),
    ("API_KEY", "api_key"),
    ("JWT", "jwt"),
]

# Sentence templates: {pii} slots take the values, {filler} slots data that
# is not personal, {name} a person's name.
POSITIVE_TEMPLATES = [
    "Please contact {name} at {pii}.",
    "{pii}",
    "My details: {pii} (updated {filler}).",
    "{name} wrote on {filler}: use {pii} from now on.",
    "Forward the report ({filler}) to {pii} and {pii}.",
    "Hi, it's {name}. Reach me on {pii}, or {pii} if that fails.",
    "Der Kunde {name} hat {pii} angegeben, Stand {filler}.",
    "Merci de noter : {pii}. Référence {filler}.",
    "Graag overmaken; gegevens: {pii}. Datum {filler}.",
    "- {filler}: {pii}\n- {filler}: {pii}",
    "Debug log [{filler}] value={pii} status=ok",
    "\"{pii}\" was found in ticket {filler}, reported by {name}.",
    "Ticket {filler}: customer {name} ({pii}) asked about {filler}.",
    "Config: token = {pii}; region = eu-west-1; retries = 3",
]

CONTROL_TEMPLATES = [
    "Please contact {name} about the delivery on {filler}.",
    "{filler}",
    "Summary for {name}: {filler}, then {filler}.",
    "The release of {filler} was announced on {filler}.",
    "Der Kunde {name} hat am {filler} bestellt ({filler}).",
    "Merci pour votre commande {filler} du {filler}.",
    "Bestelling {filler} is verzonden op {filler}.",
    "- {filler}: {filler}\n- {filler}: {filler}",
    "Debug log [{filler}] value={filler} status=ok",
    "Ticket {filler}: {name} asked about {filler} and {filler}.",
    "Config: version = {filler}; region = eu-west-1; retries = 3",
]


def fill(gen, template, values):
    """Fill a template; return (text, spans) with UTF-8 byte offsets."""
    out = b""
    spans = []
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            out += rest.encode()
            break
        out += rest[:start].encode()
        end = rest.index("}", start)
        slot = rest[start + 1 : end]
        rest = rest[end + 1 :]
        if slot == "pii":
            kind, value = values.pop(0)
            spans.append({"start": len(out), "end": len(out) + len(value.encode()), "kind": kind})
            out += value.encode()
        elif slot == "filler":
            out += gen.filler().encode()
        elif slot == "name":
            out += gen.name().encode()
    return out.decode(), spans


def write_sets(out_dir, n, seed):
    gen = Generator(seed)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "positives.jsonl"), "w", encoding="utf-8") as f:
        for idx in range(n):
            template = gen.rng.choice(POSITIVE_TEMPLATES)
            n_slots = template.count("{pii}")
            values = []
            for slot_idx in range(n_slots):
                # Round robin over the kinds for the first slot keeps every
                # kind equally represented; later slots are random.
                kind, method = (
                    KIND_METHODS[idx % len(KIND_METHODS)]
                    if slot_idx == 0
                    else gen.rng.choice(KIND_METHODS)
                )
                values.append((kind, getattr(gen, method)()))
            text, spans = fill(gen, template, values)
            f.write(json.dumps({"text": text, "spans": spans}, ensure_ascii=False) + "\n")
    with open(os.path.join(out_dir, "control.jsonl"), "w", encoding="utf-8") as f:
        for _ in range(n):
            text, _ = fill(gen, gen.rng.choice(CONTROL_TEMPLATES), [])
            f.write(json.dumps({"text": text, "spans": []}, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--n", type=int, default=2000, help="records in each set")
    parser.add_argument("--seed", type=int, default=20240115)
    args = parser.parse_args()
    write_sets(args.out_dir, args.n, args.seed)


if __name__ == "__main__":
    main()
