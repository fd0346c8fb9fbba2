def f(obj, name):
    return getattr(obj, name)()
