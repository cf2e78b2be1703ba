"""numpy in a Python Worker.

GET /stats?values=1,2,3,4   -> mean, standard deviation, percentiles of the values
GET /solve                  -> solves a fixed 3x3 linear system
GET /random?n=3             -> n draws from numpy.random (a fresh seed in every isolate)

numpy is imported at top level, so the worker template holds it and every isolate starts with
it already imported. An explicitly seeded generator works at top level; unseeded draws would
fail there ("outside of request context") and work inside requests.
"""

from urllib.parse import parse_qs, urlparse

import numpy as np
from workers import Response, WorkerEntrypoint

# Explicitly seeded, so allowed at top level: the same matrix in every isolate.
MATRIX = np.random.default_rng(7).integers(1, 10, size=(3, 3)).astype(float) + 10 * np.eye(3)
RHS = np.array([1.0, 2.0, 3.0])


def stats(values: np.ndarray) -> dict:
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "percentiles": dict(zip(["p50", "p90", "p99"], np.percentile(values, [50, 90, 99]).tolist())),
    }


class Default(WorkerEntrypoint):
    def fetch(self, request):
        url = urlparse(request.url)
        query = parse_qs(url.query)
        if url.path == "/stats":
            raw = query.get("values", ["1,2,3,4"])[0]
            try:
                values = np.array([float(v) for v in raw.split(",") if v], dtype=float)
            except ValueError:
                return Response("values must be numbers separated by commas\n", status=400)
            if values.size == 0:
                return Response("values must not be empty\n", status=400)
            return Response.json(stats(values))
        if url.path == "/solve":
            x = np.linalg.solve(MATRIX, RHS)
            return Response.json({"matrix": MATRIX.tolist(), "b": RHS.tolist(), "x": x.tolist(),
                                  "check": bool(np.allclose(MATRIX @ x, RHS))})
        if url.path == "/random":
            n = min(int(query.get("n", ["3"])[0]), 100)
            return Response.json({"values": np.random.rand(n).tolist()})
        return Response.json({"numpy": np.__version__,
                              "routes": ["/stats?values=1,2,3", "/solve", "/random?n=3"]})
