import ctypes

lib = ctypes.CDLL('libx.so')
