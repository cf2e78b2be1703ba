"""An isolate under concurrent load polls its socket for a moment before it sleeps
(python/busy_poll.h): it still answers every request, and once the load stops it sleeps and
uses no CPU."""

import threading
import time

PID = {"worker.py": '''
    import os
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response(str(os.getpid()))
    '''}


def cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def test_after_a_concurrent_burst_the_isolate_answers_all_and_then_sleeps(serve):
    server = serve(PID, "--spare-isolates", "0")
    answers = []

    def client():
        conn = server.conn()
        for _ in range(100):
            conn.request("GET", "/")
            response = conn.getresponse()
            answers.append((response.status, response.read()))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 800 and {status for status, _ in answers} == {200}
    pids = {int(body) for _, body in answers}
    assert len(pids) == 1
    pid = pids.pop()
    time.sleep(0.2)
    before = cpu_ns(pid)
    time.sleep(1.0)
    assert cpu_ns(pid) - before < 20_000_000     # 20 ms of CPU in a second of idling at most
    assert server.get("/")[0] == 200
