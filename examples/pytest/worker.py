import os

from workers import Response, WorkerEntrypoint


def greeting(name: str) -> str:
    return f"Hello, {name}!"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(greeting(self.env.GREETED))

    def test(self):
        # Imported here: `pyworkerd serve` never needs pytest.
        import pytest

        tests = os.path.join(os.path.dirname(__file__), "tests")
        assert pytest.main([tests, "-q", "-p", "no:cacheprovider"]) == 0
