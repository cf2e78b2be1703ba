"""bench/http peer: the smallest WSGI app, served by gunicorn's sync worker."""

BODY = b"Hello from Python!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
