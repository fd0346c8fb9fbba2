import shutil

shutil.rmtree('/tmp/cache')
