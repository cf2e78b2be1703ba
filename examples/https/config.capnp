# HTTPS (and HTTP/2) straight from pyworkerd, as workerd configures it. make-cert.sh writes a
# self-signed certificate for localhost into this directory first:
#   examples/https/make-cert.sh && build/pyworkerd serve examples/https/config.capnp
#   curl --cacert examples/https/cert.pem --http2 https://localhost:8443/
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [
    (name = "https", address = "127.0.0.1:8443", service = "main",
     https = (options = (),
              tlsOptions = (keypair = (privateKey = embed "key.pem",
                                       certificateChain = embed "cert.pem"),
                            minVersion = tls1Dot2))),
    (name = "http", address = "127.0.0.1:8080", http = (), service = "main"),
  ],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
