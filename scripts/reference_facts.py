"""Print, as JSON, the facts the formats' own Python libraries report for the
real fixture models. modelgate's tests must agree with these exactly."""
import json
import math
import sys
from pathlib import Path

import gguf
from safetensors import safe_open

fx = Path(sys.argv[1])

reader = gguf.GGUFReader(str(fx / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
smol_params = sum(int(math.prod(int(d) for d in t.shape)) for t in reader.tensors)
smol = {
    "parameters": smol_params,
    "n_tensors": len(reader.tensors),
    "n_kv": len(reader.fields),
}

mini_params = 0
n_tensors = 0
with safe_open(str(fx / "minilm" / "model.safetensors"), framework="numpy") as f:
    for name in f.keys():
        shape = f.get_slice(name).get_shape()
        mini_params += int(math.prod(shape))
        n_tensors += 1
mini = {"parameters": mini_params, "n_tensors": n_tensors}

json.dump({"smollm2": smol, "minilm": mini}, sys.stdout, indent=2)
print()
