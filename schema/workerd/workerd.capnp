@0xda4b4ff80c6b7d37;
# pyworkerd's configuration schema.
#
# A config is Cap'n Proto text that imports this file and defines a constant of type `Config`:
#
#     using Workerd = import "/workerd/workerd.capnp";
#     const config :Workerd.Config = ( services = [...], sockets = [...] );
#
# and is served with `pyworkerd serve config.capnp [constName]`.
#
# Every struct, field name and ordinal matches workerd's own schema (cloudflare/workerd,
# src/workerd/server/workerd.capnp), so a config written for workerd evaluates unchanged against
# this file. pyworkerd reads the evaluated value as JSON (`capnp eval -ojson`) and checks it;
# whatever it does not implement yet is reported as "not supported by pyworkerd: <field>" rather
# than ignored. The only additions are two union aliases in Worker.Module (see there).
#
# Invariant: never renumber or rename a field; new pyworkerd-only fields must not reuse a name
# that workerd has.

struct Config {
  # Top-level configuration of a pyworkerd (workerd) instance.

  services @0 :List(Service);
  # Named services. If none is named "internet", one is implied:
  # network (allow = ["public"], tlsOptions = (trustBrowserCas = true)).

  sockets @1 :List(Socket);
  # Where the server listens and which service answers there.

  v8Flags @2 :List(Text);
  # workerd passes these to V8. pyworkerd has no V8: not supported.

  extensions @3 :List(Extension);
  # Late-linked JavaScript modules for all workers. Not supported by pyworkerd.

  autogates @4 :List(Text);
  # Feature gates that are switched on (e.g. "workerd-autogate-builtin-wasm-modules").

  structuredLogging @5 :Bool = false;
  # Deprecated in workerd in favour of `logging`; JSON logs when true.

  logging @6 :LoggingOptions;
  # Console and standard stream logging.
}

struct LoggingOptions {
  structuredLogging @0 :Bool = false;
  # JSON logs when true (overrides the top-level field only when true).

  stdoutPrefix @1 :Text;
  # Prefix of lines a worker writes to stdout; "stdout: " when unset.

  stderrPrefix @2 :Text;
  # Prefix of lines a worker writes to stderr; "stderr: " when unset.
}

# ---------------------------------------------------------------------------------------------
# Sockets

struct Socket {
  name @0 :Text;
  # Unique name; the key of the `--socket-addr <name>=<addr>` command-line override.

  address @1 :Text;
  # "*:8080", "127.0.0.1:8080", "[::1]:8080", "unix:/path", "unix-abstract:name", "host:port".
  # May be left out when the address is given on the command line.

  union {
    http @2 :HttpOptions;
    # Plain HTTP (default port 80).

    https :group {
      # HTTP over TLS (default port 443).
      options @3 :HttpOptions;
      tlsOptions @4 :TlsOptions;
    }

    tcp :group {
      # Raw TCP connections handed to the service's connect handler.
      tlsOptions @6 :TlsOptions;
    }

    udp :group {
      # Datagrams grouped into flows per peer, handed to the service's connect handler.
      idleTimeoutMs @7 :UInt32 = 30000;
      maxPendingBytes @8 :UInt32 = 262144;
    }
  }

  service @5 :ServiceDesignator;
  # The service that handles what arrives on this socket.
}

# ---------------------------------------------------------------------------------------------
# Services

struct Service {
  name @0 :Text;
  # Private name, used to refer to the service elsewhere in the config and in logs.

  union {
    unspecified @1 :Void;
    # Catches a service with no kind; an error.

    worker @2 :Worker;
    # Code (for pyworkerd: Python) that handles events.

    network @3 :Network;
    # Access to a network; requests are routed by the URL's host.

    external @4 :ExternalServer;
    # Every request is forwarded to one server.

    disk @5 :DiskDirectory;
    # A directory on disk served over HTTP (GET/HEAD, and PUT/DELETE when writable).
  }
}

struct ServiceDesignator {
  # A reference to a service. A bare string stands for `(name = "...")`.

  name @0 :Text;
  # Name of an entry of Config.services.

  entrypoint @1 :Text;
  # Named entrypoint (an exported class) of the target worker; the default one when unset.

  props :union {
    # What the target sees as `ctx.props`.

    empty @2 :Void;
    # An empty object (default).

    json @3 :Text;
    # A JSON-encoded value.
  }
}

struct WorkflowsEngine {
  actorClass @0 :ServiceDesignator;
  workflows @1 :List(Workflow);

  struct Workflow {
    className @0 :Text;
    name @1 :Text;
    bindingService @2 :ServiceDesignator;
  }
}

struct Worker {
  union {
    modules @0 :List(Module);
    # The worker's modules; the first one is the main module.

    serviceWorkerScript @1 :Text;
    # A single JavaScript service-worker script. Not supported by pyworkerd.

    inherit @2 :Text;
    # Clone the worker of the named service, overriding bindings / globalOutbound.

  }

  struct Module {
    name @0 :Text;
    # Name (path) under which the module is imported, e.g. "worker.py".

    union {
      esModule @1 :Text;
      # JavaScript ES module source.

      commonJsModule @2 :Text;
      # JavaScript CommonJS module source.

      text @3 :Text;
      # Text blob; importing it yields the string.

      data @4 :Data;
      # Binary blob; importing it yields the bytes.

      wasm @5 :Data;
      # Compiled WebAssembly module.

      json @6 :Text;
      # JSON text; importing it yields the parsed value.

      obsolete @7 :Text;
      # Formerly `nodeJsCompatModule` (removed from workerd in 2025-03).

      pythonModule @8 :Text;
      # Python source.

      obsoletePythonRequirement @9 :Text;
      # Formerly `pythonRequirement` (removed from workerd in 2026-06). The module's name is a
      # Python package the worker requires; the text is empty or a version specifier
      # (">=1.24"). pyworkerd resolves it like the other requirements (README, "Packages").

      nodeJsCompatModule @11 :Text;
      # pyworkerd-only alias so that older configs that still spell member @7 by its old name
      # evaluate; reported as unsupported like `obsolete`.

      pythonRequirement @12 :Text;
      # pyworkerd-only alias of the old name of member @9, so that older configs evaluate;
      # means the same as obsoletePythonRequirement.
    }

    namedExports @10 :List(Text);
    # Names a commonJsModule exports.
  }

  compatibilityDate @3 :Text;
  # "YYYY-MM-DD"; required unless `inherit` is used.

  compatibilityFlags @4 :List(Text);
  # Compatibility flags, e.g. ["python_workers"].

  bindings @5 :List(Binding);
  # What the worker sees in `env`.

  struct Binding {
    name @0 :Text;

    union {
      unspecified @1 :Void;
      # Catches a binding with no kind; an error.

      parameter :group {
        # A binding that an inheriting worker fills in.
        type @2 :Type;
        optional @3 :Bool;
      }

      text @4 :Text;
      # A string.

      data @5 :Data;
      # Bytes.

      json @6 :Text;
      # A value parsed from JSON.

      wasmModule @7 :Data;
      # A WebAssembly module (service-worker syntax only).

      cryptoKey @8 :CryptoKey;
      # A WebCrypto key.

      service @9 :ServiceDesignator;
      # Another service (a fetcher / RPC stub).

      durableObjectNamespace @10 :DurableObjectNamespaceDesignator;
      # A Durable Object namespace; a bare string names the class.

      kvNamespace @11 :ServiceDesignator;
      # A KV namespace implemented by the named service.

      r2Bucket @12 :ServiceDesignator;
      # An R2 bucket implemented by the named service.

      obsolete0 @13 :ServiceDesignator;
      # Formerly `r2Admin`.

      wrapped @14 :WrappedBinding;
      # Inner bindings wrapped by a built-in module.

      queue @15 :ServiceDesignator;
      # A queue producer implemented by the named service.

      fromEnvironment @16 :Text;
      # The value of this environment variable (null when unset).

      analyticsEngine @17 :ServiceDesignator;
      # Analytics Engine events sent to the named service (experimental in workerd).

      hyperdrive :group {
        designator @18 :ServiceDesignator;
        database @19 :Text;
        user @20 :Text;
        password @21 :Text;
        scheme @22 :Text;
      }

      unsafeEval @23 :Void;
      # Access to the UnsafeEval API (experimental in workerd).

      memoryCache :group {
        # An in-process cache shared by id (experimental in workerd).
        id @24 :Text;
        limits @25 :MemoryCacheLimits;
      }

      durableObjectClass @26 :ServiceDesignator;
      # A Durable Object class without a storage namespace (experimental in workerd).

      workerLoader :group {
        # Dynamic loading of workers (experimental in workerd).
        id @27 :Text;
      }

      workerdDebugPort @28 :Void;
      # connect() to a workerd debug port.
    }

    struct Type {
      # The type of a `parameter` binding.
      union {
        unspecified @0 :Void;
        text @1 :Void;
        data @2 :Void;
        json @3 :Void;
        wasm @4 :Void;
        cryptoKey @5 :List(CryptoKey.Usage);
        service @6 :Void;
        durableObjectNamespace @7 :Void;
        kvNamespace @8 :Void;
        r2Bucket @9 :Void;
        obsolete0 @10 :Void;
        queue @11 :Void;
        analyticsEngine @12 :Void;
        hyperdrive @13 :Void;
        durableObjectClass @14 :Void;
        workerdDebugPort @15 :Void;
      }
    }

    struct DurableObjectNamespaceDesignator {
      className @0 :Text;
      # The exported class implementing the objects.

      serviceName @1 :Text;
      # The worker exporting it; this worker when unset.
    }

    struct CryptoKey {
      # Arguments of crypto.subtle.importKey().
      union {
        raw @0 :Data;
        hex @1 :Text;
        base64 @2 :Text;
        pkcs8 @3 :Text;
        spki @4 :Text;
        jwk @5 :Text;
      }

      algorithm :union {
        name @6 :Text;
        json @7 :Text;
      }

      extractable @8 :Bool = false;
      usages @9 :List(Usage);

      enum Usage {
        encrypt @0;
        decrypt @1;
        sign @2;
        verify @3;
        deriveKey @4;
        deriveBits @5;
        wrapKey @6;
        unwrapKey @7;
      }
    }

    struct MemoryCacheLimits {
      maxKeys @0 :UInt32;
      maxValueSize @1 :UInt32;
      maxTotalValueSize @2 :UInt64;
    }

    struct WrappedBinding {
      moduleName @0 :Text;
      # The built-in module that builds the binding.

      entrypoint @1 :Text = "default";
      # Its export called with the inner bindings.

      innerBindings @2 :List(Binding);
    }
  }

  globalOutbound @6 :ServiceDesignator = (name = "internet");
  # Where the worker's global fetch() goes.

  cacheApiOutbound @11 :ServiceDesignator;
  # Where the Cache API's requests go.

  durableObjectNamespaces @7 :List(DurableObjectNamespace);
  # Durable Object classes this worker implements.

  struct DurableObjectNamespace {
    className @0 :Text;

    union {
      uniqueKey @1 :Text;
      # Stable secret from which object ids are derived.

      ephemeralLocal @2 :Void;
      # No storage; any string is an id.
    }

    preventEviction @3 :Bool;
    enableSql @4 :Bool;
    # Offer `storage.sql`.

    container @5 :ContainerOptions;

    struct ContainerOptions {
      imageName @0 :Text;
      privileges @1 :ContainerPrivileges;
      images @2 :List(NamedImage);

      struct NamedImage {
        name @0 :Text;
        image @1 :Text;
      }

      struct ContainerPrivileges {
        capabilities @0 :List(Text);
        devices @1 :List(Device);
        securityOpt @2 :List(Text);

        struct Device {
          pathOnHost @0 :Text;
          pathInContainer @1 :Text;
          cgroupPermissions @2 :Text;
        }
      }
    }
  }

  durableObjectUniqueKeyModifier @8 :Text;
  # Hashed with uniqueKey; required of workers that inherit Durable Objects.

  durableObjectStorage :union {
    none @9 :Void;
    # No Durable Object storage (default).

    inMemory @10 :Void;
    # Kept in memory for the life of the process.

    localDisk @12 :Text;
    # Name of a disk service; one directory per uniqueKey, one SQLite file per object.
  }

  moduleFallback @13 :Text;
  # Address of a service asked for modules that are not in `modules`.

  tails @14 :List(ServiceDesignator);
  # Tail workers that receive this worker's trace events.

  streamingTails @15 :List(ServiceDesignator);

  containerEngine :union {
    none @16 :Void;
    localDocker @17 :DockerConfiguration;
  }

  struct DockerConfiguration {
    socketPath @0 :Text;
    containerEgressInterceptorImage @1 :Text;
  }

  accessBlobHeader @18 :Text;
  # Header carrying Cloudflare Access metadata (local development).

  accessBindingService @19 :ServiceDesignator;
  # Service answering ctx.access.getIdentity().

  workflowsEngine @20 :WorkflowsEngine;

  pyworkerd @21 :PyworkerdOptions;
  # pyworkerd's own extension (workerd has no such field): this worker's limits and isolate
  # pool (a field left at 0 takes the value of the matching `pyworkerd serve` flag), the
  # queues it consumes and its cron schedules.

  struct PyworkerdOptions {
    memoryLimitMib @0 :UInt32;         # --memory-limit
    cpuLimitMs @1 :UInt32;             # --cpu-limit-ms
    requestTimeoutMs @2 :UInt32;       # --request-timeout (here in milliseconds)
    maxConcurrentRequests @3 :UInt32;  # --max-concurrent-requests
    minIsolates @4 :UInt32;            # --min-isolates / --isolates
    maxIsolates @5 :UInt32;            # --max-isolates

    queueConsumers @6 :List(QueueConsumer);
    # The queues this worker consumes: each batch of messages is delivered to its default
    # entrypoint's `queue(self, batch, env, ctx)` (or a top-level `on_queue`). A queue is made
    # by being named: by a `queue = "NAME"` producer binding (whose designator names a queue of
    # pyworkerd's, not a service), by a consumer or by a deadLetterQueue. Its messages live in
    # SQLite under the persist directory (queues.sqlite3) and survive a restart. A queue has at
    # most one consumer. The fields are wrangler's [[queues.consumers]] settings.

    crons @7 :List(Text);
    # Cron Triggers (wrangler's `triggers.crons`): each schedule calls the default entrypoint's
    # `scheduled(self, controller, env, ctx)` (or a top-level `on_scheduled`). Five fields
    # (minute hour day-of-month month day-of-week, UTC) with Cloudflare's syntax: `*`, `,`,
    # `-`, `/`, names (JAN-DEC, SUN-SAT), day-of-week 1-7 = Sunday-Saturday (0 is Sunday too),
    # `L` and `W` in day-of-month, `L` and `#` in day-of-week; or an alias: @yearly,
    # @annually, @monthly, @weekly, @daily, @midnight, @hourly. A tick missed while the server
    # was not running is not run later.

    queueProducers @8 :List(QueueProducer);
    # Settings of this worker's queue producer bindings (wrangler's [[queues.producers]]).

    struct QueueProducer {
      binding @0 :Text;
      # The producer binding's name.

      deliveryDelay @1 :UInt32;
      # delivery_delay: seconds before a message sent without delaySeconds is delivered,
      # 0 to 86400.
    }

    struct QueueConsumer {
      queue @0 :Text;
      # The queue's name: 1 to 63 lowercase letters, digits, '-' or '_'.

      maxBatchSize @1 :UInt32 = 10;
      # max_batch_size: messages per batch, 1 to 100.

      maxBatchTimeout @2 :UInt32 = 5;
      # max_batch_timeout: seconds a partial batch waits for more messages, 0 to 60.

      maxRetries @3 :UInt32 = 3;
      # max_retries: deliveries after the first before a message goes to the dead-letter
      # queue (or is dropped), 0 to 100.

      deadLetterQueue @4 :Text;
      # dead_letter_queue: where messages go after maxRetries failed retries ("": dropped).

      retryDelay @5 :UInt32;
      # retry_delay: seconds before a retried message is delivered again, 0 to 86400 (a
      # retry(delaySeconds=) or retryAll(delaySeconds=) overrides it).

      maxConcurrency @6 :UInt32;
      # max_concurrency: batches delivered at once, 1 to 250; 0 = automatic (up to 8).
    }
  }
}

struct ExternalServer {
  # A server that receives every request sent to this service.

  address @0 :Text;
  # "host:port", "[v6]:port", "unix:/path", ...

  union {
    http @1 :HttpOptions;

    https :group {
      options @2 :HttpOptions;
      tlsOptions @3 :TlsOptions;
      certificateHost @4 :Text;
    }

    tcp :group {
      tlsOptions @5 :TlsOptions;
      certificateHost @6 :Text;
    }
  }
}

struct Network {
  allow @0 :List(Text) = ["public"];
  deny @1 :List(Text);
  # CIDR blocks or "public", "private", "local", "network", "unix", "unix-abstract". An address
  # is reachable iff it matches an entry of `allow` and none of `deny`.

  tlsOptions @2 :TlsOptions;
}

struct DiskDirectory {
  path @0 :Text;
  # Directory to serve; relative paths are relative to the server's working directory.

  writable @1 :Bool = false;
  # Accept PUT (atomic replace, parents created) and DELETE.

  allowDotfiles @2 :Bool = false;
  # Serve names starting with '.' (never "." or "..").

  assets @3 :AssetsOptions;
  # pyworkerd extension (wrangler's [assets]): answer as Cloudflare's Workers static assets do.
}

struct AssetsOptions {
  # pyworkerd extension: the rules of Cloudflare's static assets for a read-only directory.
  htmlHandling @0 :Text = "auto-trailing-slash";
  # "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash" or "none".

  notFoundHandling @1 :Text = "none";
  # "none" (404), "single-page-application" (/index.html, 200), "404-page" (nearest 404.html).

  worker @2 :Text;
  # A socket serving this directory calls this worker service when no asset answers.

  runWorkerFirst @3 :List(Text);
  # Paths ("/api/*"; "!/api/docs/*" excludes) that go to `worker` before any asset.
}

# ---------------------------------------------------------------------------------------------
# Protocol options

struct HttpOptions {
  style @0 :Style = host;

  enum Style {
    host @0;
    # Origin-form request line plus a Host header.

    proxy @1;
    # Absolute-form request line, as sent to forward proxies.
  }

  forwardedProtoHeader @1 :Text;
  # Header that names the client's original protocol ("http"/"https").

  cfBlobHeader @2 :Text;
  # Header that carries `request.cf` as JSON.

  injectRequestHeaders @3 :List(Header);
  injectResponseHeaders @4 :List(Header);

  struct Header {
    name @0 :Text;
    value @1 :Text;
    # Null removes the header.
  }

  capnpConnectHost @5 :Text;
  # CONNECT to this host:port opens a Cap'n Proto RPC session.
}

struct TlsOptions {
  keypair @0 :Keypair;

  struct Keypair {
    privateKey @0 :Text;
    certificateChain @1 :Text;
    # PEM.
  }

  requireClientCerts @1 :Bool = false;
  trustBrowserCas @2 :Bool = false;
  trustedCertificates @3 :List(Text);
  minVersion @4 :Version = goodDefault;

  enum Version {
    goodDefault @0;
    ssl3 @1;
    tls1Dot0 @2;
    tls1Dot1 @3;
    tls1Dot2 @4;
    tls1Dot3 @5;
  }

  cipherList @5 :Text;
}

# ---------------------------------------------------------------------------------------------
# Extensions

struct Extension {
  modules @0 :List(Module);

  struct Module {
    name @0 :Text;
    # e.g. "my-extension:module".

    internal @1 :Bool = false;
    # Importable only by other extension modules.

    esModule @2 :Text;
  }
}

# ---------------------------------------------------------------------------------------------
# The JSON body of a request to a Worker's moduleFallback service.

struct FallbackServiceRequest {
  type @0 :Text;
  specifier @1 :Text;
  rawSpecifier @2 :Text;
  referrer @3 :Text;
  attributes @4 :List(Attribute);

  struct Attribute {
    name @0 :Text;
    value @1 :Text;
  }
}
