"""The wire's doorbell (wire/doorbell.h): every isolate passes the host an eventfd with its
first frame and rings it after each write; the host sleeps on it, not on the socket, and
still answers everything (pipelined bursts, large bodies that fill the socket)."""

import os
import threading
import time

HELLO = {"worker.py": '''
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            body = await request.bytes()
            return Response(body if body else b"x" * int(request.url.rsplit("=", 1)[-1]))
    '''}


def eventfds(pid: int) -> int:
    fd_dir = f"/proc/{pid}/fd"
    count = 0
    for name in os.listdir(fd_dir):
        try:
            count += os.readlink(f"{fd_dir}/{name}") == "anon_inode:[eventfd]"
        except OSError:
            pass
    return count


def wait_for_isolates(server, n: int) -> None:
    deadline = time.monotonic() + 10
    while server.log().count("started") < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_host_holds_one_doorbell_per_isolate(serve):
    one = serve(HELLO, "--isolates", "1", "--spare-isolates", "0", "--verbose")
    three = serve(HELLO, "--isolates", "3", "--spare-isolates", "0", "--verbose")
    for server, n in ((one, 1), (three, 3)):
        assert server.get("/?n=1")[0] == 200
        wait_for_isolates(server, n)
    time.sleep(0.2)     # each isolate's first frame has been read
    assert eventfds(three.proc.pid) - eventfds(one.proc.pid) == 2


def test_answers_that_fill_the_socket_arrive_whole(serve):
    server = serve(HELLO, "--spare-isolates", "0")
    size = 8 * 1024 * 1024
    results = []

    def fetch():
        results.append(server.get(f"/?n={size}", timeout=30))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r[0] for r in results] == [200] * 4
    assert all(len(r[2]) == size for r in results)


def test_a_burst_of_pipelined_requests_is_answered_in_order(serve):
    server = serve(HELLO, "--spare-isolates", "0")
    conn = server.conn()
    conn.connect()
    burst = b"".join(f"GET /?n={i + 1} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(200))
    conn.sock.sendall(burst)
    data = b""
    deadline = time.monotonic() + 20
    while data.count(b"HTTP/1.1 200") < 200 and time.monotonic() < deadline:
        data += conn.sock.recv(1 << 20)
    conn.close()
    assert data.count(b"HTTP/1.1 200") == 200
