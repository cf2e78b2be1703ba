# The top-level `asgi` module of Python Workers: the same module object as `workers.asgi`,
# so `from asgi import asgi_adapter` (the seed's form) and `import asgi; asgi.fetch(...)`
# both work. Imported wherever a worker imports it (template or isolate).
"""ASGI adapter for Python Workers (alias of `workers.asgi`)."""

import sys

import workers.asgi

sys.modules[__name__] = workers.asgi
