import os

os.environ['LD_PRELOAD'] = 'x.so'
