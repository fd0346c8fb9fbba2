"""Write model cards for crates/card tests from the Hugging Face model card
template (`huggingface_hub/templates/modelcard_template.md`, Apache-2.0),
rendered the way `huggingface_hub.ModelCard.from_template` renders it: each
`{{ var | default("X", true) }}` becomes the value given, or X.

    python3 scripts/testdata/make_card.py

Outputs in tests/data/card/:
  template_unfilled.md  the template with no values (what `from_template` gives)
  template_filled.md    every field filled with real-looking text
"""
import glob
import os
import re
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "tests", "data", "card")
CACHE = os.path.expanduser(os.environ.get("MODELGATE_FIXTURES", "~/.cache/modelgate/fixtures"))
WHEEL = "huggingface_hub==2.4.0"


def template():
    wheels = os.path.join(CACHE, "wheels")
    os.makedirs(wheels, exist_ok=True)
    found = glob.glob(os.path.join(wheels, "huggingface_hub-2.4.0-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", wheels, WHEEL], check=True)
        found = glob.glob(os.path.join(wheels, "huggingface_hub-2.4.0-*.whl"))
    with zipfile.ZipFile(found[0]) as wheel:
        return wheel.read("huggingface_hub/templates/modelcard_template.md").decode()


PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*(?:\|\s*default\(\s*\"([^\"]*)\"\s*,\s*true\s*\)\s*)?\}\}")


def render(text, values):
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(2) or ""), text)


FILLED = {
    "card_data": "license: apache-2.0\nlanguage:\n- en\n- fr\nbase_model: example-org/base-7b\ndatasets:\n- example-org/instructions\n"
                 "model-index:\n- name: tiny-assistant\n  results:\n  - task:\n      type: text-generation\n    dataset:\n      name: ARC Challenge\n      type: ai2_arc\n"
                 "    metrics:\n    - type: acc_norm\n      value: 41.2\n      name: normalized accuracy",
    "model_id": "tiny-assistant",
    "model_summary": "A small instruction-tuned assistant for drafting internal support replies.",
    "model_description": "A 135M-parameter decoder-only transformer fine-tuned to answer customer support questions in English and French.",
    "developers": "Example Org applied research team",
    "model_type": "Causal language model",
    "language": "English, French",
    "license": "apache-2.0",
    "base_model": "example-org/base-7b",
    "direct_use": "Drafting replies to customer support tickets that a human agent reviews before sending.",
    "downstream_use": "Fine-tuning on a company's own support history to match its tone.",
    "out_of_scope_use": "Medical, legal or financial advice; any decision about people made without human review.",
    "bias_risks_limitations": "The model invents facts when unsure, underperforms in French compared with English, and reflects the biases of web text in its pretraining data.",
    "bias_recommendations": "Keep a human in the loop and show users that replies are machine drafted.",
    "training_data": "120,000 anonymised support conversations from example-org/instructions, deduplicated and filtered for personal data.",
    "results": "ARC Challenge normalized accuracy 41.2; internal support answer acceptance 78% (n=2,000).",
    "testing_data": "A held-out set of 2,000 support tickets from 2025.",
    "testing_metrics": "Acceptance rate by human agents, and normalized accuracy on ARC Challenge.",
    "hardware_type": "8x NVIDIA H100",
    "hours_used": "12",
    "cloud_provider": "Example Cloud",
    "cloud_region": "eu-west-1",
    "co2_emitted": "9.6 kg CO2eq",
}


def main():
    os.makedirs(ROOT, exist_ok=True)
    text = template()
    with open(os.path.join(ROOT, "template_unfilled.md"), "w") as out:
        out.write(render(text, {"card_data": "license: apache-2.0"}))
    with open(os.path.join(ROOT, "template_filled.md"), "w") as out:
        out.write(render(text, FILLED))


if __name__ == "__main__":
    main()
