"""HTTP behaviour of the host: bodies (content-length and chunked), limits, methods."""

import socket

ECHO = {"worker.py": '''
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            body = await request.bytes()
            return Response(body, headers={"x-method": str(request.method),
                                           "x-length": str(len(body))})
    '''}


def test_content_length_body_reaches_the_worker(serve):
    server = serve(ECHO)
    status, headers, body = server.request("POST", "/", body=b"hello body")
    assert (status, body, headers["x-method"]) == (200, b"hello body", "POST")


def test_chunked_request_body_is_reassembled(serve):
    server = serve(ECHO)
    conn = server.conn()
    conn.request("PUT", "/", body=iter([b"ab", b"cde", b"f" * 1000]), encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 200
    assert r.read() == b"abcde" + b"f" * 1000
    assert r.getheader("x-method") == "PUT"
    conn.close()


def test_binary_body_round_trips_unchanged(serve):
    server = serve(ECHO)
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    status, headers, body = server.request("POST", "/", body=payload)
    assert status == 200 and body == payload


def test_body_over_32_mib_gets_413_and_server_keeps_serving(serve):
    server = serve(ECHO)
    big = b"x" * (32 * 1024 * 1024 + 1)
    try:
        status, _, _ = server.request("POST", "/", body=big, timeout=30)
        assert status == 413
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server may close the connection while we are still sending
    status, _, body = server.request("POST", "/", body=b"ok")
    assert (status, body) == (200, b"ok")


def test_head_request_has_no_body(serve):
    server = serve(ECHO)
    status, headers, body = server.request("HEAD", "/")
    assert status == 200 and body == b"" and headers["x-method"] == "HEAD"


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
                if b"\r\n\r\n" in reply:
                    break
        except (ConnectionResetError, socket.timeout):
            pass
    return reply


def test_headers_over_128_kib_get_431_and_server_keeps_serving(serve):
    server = serve(ECHO)
    big = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Big-%d: %s\r\n" % (i, b"a" * 8000) for i in range(20)) + b"\r\n"
    assert raw_exchange(server.port, big).startswith(b"HTTP/1.1 431")
    status, _, body = server.request("POST", "/", body=b"still up")
    assert (status, body) == (200, b"still up")


def test_too_many_headers_are_rejected(serve):
    server = serve(ECHO)
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n"
    reply = raw_exchange(server.port, many)
    assert reply.startswith(b"HTTP/1.1 4"), reply[:100]
    assert server.get("/")[0] == 200


def test_malformed_request_line_gets_400(serve):
    server = serve(ECHO)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"NOT A REQUEST\r\n\r\n")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400")
    assert server.get("/")[0] == 200
