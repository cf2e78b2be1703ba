# `pyworkerd test examples/testing/config.capnp` runs the test handlers below, as
# `workerd test` does: one per WorkerEntrypoint class that defines `test`.
from workers import Response, WorkerEntrypoint


def greet(name):
    return f"Hello, {name}!"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(greet(self.env.GREETED))

    async def test(self, ctrl):
        response = await self.fetch(None)
        assert await response.text() == "Hello, world!", "fetch() greets the configured name"


class Admin(WorkerEntrypoint):
    def stats(self):
        return {"greetings": 1}

    def test(self, ctrl):
        assert self.stats() == {"greetings": 1}
