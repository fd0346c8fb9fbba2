from huggingface_hub import hf_hub_download

hf_hub_download('org/model', 'w.bin')
