from js import Response
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    def fetch(self, request):
        # Access environment bindings
        kv = self.env.MY_KV_NAMESPACE
        # Use KV store
        value = kv.get("key")
        kv.put("key", "value")
        return Response.new(f"Stored value: {value}")
