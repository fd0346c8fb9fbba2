"""The reference renders for crates/chat: chat templates rendered the way Hugging Face
transformers renders them (utils/chat_template_utils.py), with Python's jinja2.

Reads one JSON request on stdin:
    {"templates": {NAME: SOURCE, ...},
     "renders": [{"template": NAME, "messages": [...], "tools": [...] | null,
                  "add_generation_prompt": bool, "bos_token": str, "eos_token": str,
                  "extra": {...}}, ...]}
and writes one JSON line per render, in order:
    {"ok": PROMPT}                      the rendered prompt
    {"raised": MESSAGE}                 the template called raise_exception(MESSAGE)
    {"error": "TYPE: MESSAGE"}          any other failure

Run by crates/chat/tests/chat.rs with $MODELGATE_PYTHON (scripts/venv.sh).
"""

import json
import sys
from datetime import datetime, timezone

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' filter: json.dumps without jinja2's HTML escaping.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    # transformers uses datetime.now() (local time); modelgate renders in UTC.
    return datetime.now(timezone.utc).strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(template, case):
    if isinstance(template, Exception):
        return {"error": f"{type(template).__name__}: {template}"}
    try:
        prompt = template.render(
            messages=case["messages"],
            tools=case["tools"],
            documents=None,
            add_generation_prompt=case["add_generation_prompt"],
            bos_token=case["bos_token"],
            eos_token=case["eos_token"],
            **case["extra"],
        )
        return {"ok": prompt}
    except Exception as e:  # noqa: BLE001 - every failure is an answer to compare
        if type(e) is jinja2.exceptions.TemplateError:
            return {"raised": str(e)}
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    request = json.load(sys.stdin)
    env = environment()
    templates = {}
    for name, source in request["templates"].items():
        try:
            templates[name] = env.from_string(source)
        except jinja2.exceptions.TemplateError as e:
            # jinja2 finds unknown filters and tests while compiling; the render fails.
            templates[name] = e
    for case in request["renders"]:
        print(json.dumps(render(templates[case["template"]], case), ensure_ascii=False))


if __name__ == "__main__":
    main()
