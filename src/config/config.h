/* config.h — pyworkerd's view of a workerd config (host process).
 *
 * pw_config_load() evaluates the user's Cap'n Proto config with the `capnp` tool against
 * pyworkerd's own schema (schema/workerd/workerd.capnp), reads the JSON it prints, checks it
 * the way workerd does and returns plain C structs. Everything in a pw_config_t is owned by it
 * and freed by pw_config_free(). Errors are returned as text in `err` (workerd's wording:
 * "FILE:LINE:COL: msg", "service NAME: msg", ...), never printed here.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PW_MODULE_PYTHON,
    PW_MODULE_TEXT,
    PW_MODULE_DATA,
    PW_MODULE_JSON,
    PW_MODULE_REQUIREMENT,  /* pythonRequirement / obsoletePythonRequirement: `name` is the
                             * package, `content` an optional version specifier ("" or e.g.
                             * ">=1.24"); not a file: the template resolves it (packages.py) */
} pw_module_kind_t;

typedef struct {
    char *name;             /* e.g. "worker.py", "python_modules/foo/__init__.py" */
    pw_module_kind_t kind;
    char *content;          /* bytes (NUL-terminated for convenience) */
    size_t content_len;
} pw_module_t;

typedef enum {
    PW_BINDING_TEXT,        /* value = the text */
    PW_BINDING_DATA,        /* value = the bytes */
    PW_BINDING_JSON,        /* value = the JSON text, as written in the config */
    PW_BINDING_FROM_ENV,    /* value = getenv() at load time, or NULL when unset */
    PW_BINDING_KV,          /* kvNamespace: value = the name of the service holding it */
    PW_BINDING_SERVICE,     /* service: value = the worker's name, entrypoint = class or NULL */
    PW_BINDING_WORKFLOW,    /* wrapped PW_WORKFLOWS_MODULE: value = the worker's name,
                             * entrypoint = its WorkflowEntrypoint class */
    PW_BINDING_R2,          /* r2Bucket: value = the writable disk service holding it */
    PW_BINDING_MEMORY_CACHE,    /* memoryCache: value = its id ("": none, the binding's own
                                 * cache), cache_limits = its limits */
    PW_BINDING_QUEUE,       /* queue: value = the queue's name (a queue of the host's, not a
                             * service: host/queues.h) */
    PW_BINDING_DISK,        /* service naming a disk service (static files, env.ASSETS):
                             * value = the disk service's name; the host answers its fetch */
    PW_BINDING_DURABLE_OBJECT,  /* durableObjectNamespace: value = the worker defining the
                                 * class (serviceName, else this one), entrypoint = the class,
                                 * unique_key = its namespace's uniqueKey */
    PW_BINDING_D1,          /* wrapped PW_D1_MODULE: value = the writable disk service holding
                             * the database */
    PW_BINDING_HYPERDRIVE,  /* hyperdrive: entrypoint = the designated external service;
                             * value = JSON {host, port, user, password, database, scheme} */
} pw_binding_kind_t;

/* The `wrapped` binding module that makes a Workflow binding (as in workerd's own tests). */
#define PW_WORKFLOWS_MODULE "cloudflare-internal:workflows-api"
/* The `wrapped` binding module that makes a D1 binding (workerd's d1-api). */
#define PW_D1_MODULE "cloudflare-internal:d1-api"

typedef struct {
    char *name;
    pw_binding_kind_t kind;
    char *value;            /* NULL only for an unset fromEnvironment */
    size_t value_len;
    char *entrypoint;       /* PW_BINDING_SERVICE: a named WorkerEntrypoint class, or NULL;
                             * PW_BINDING_WORKFLOW: the WorkflowEntrypoint class */
    struct {                /* PW_BINDING_MEMORY_CACHE: workerd's MemoryCacheLimits */
        uint32_t max_keys, max_value_size;
        uint64_t max_total_value_size;
    } cache_limits;
    char *unique_key;       /* PW_BINDING_DURABLE_OBJECT: the namespace's uniqueKey */
} pw_binding_t;

/* A queue the worker consumes (`pyworkerd.queueConsumers`, wrangler's [[queues.consumers]]). */
typedef struct {
    char *queue;
    unsigned max_batch_size;        /* 1..PW_QUEUE_MAX_BATCH */
    unsigned max_batch_timeout_s;   /* 0..60 */
    unsigned max_retries;           /* 0..100 */
    char *dead_letter_queue;        /* NULL: none */
    unsigned retry_delay_s;         /* 0..PW_QUEUE_MAX_DELAY_S */
    unsigned max_concurrency;       /* 0: automatic; 1..250 */
} pw_queue_consumer_t;

/* A producer binding's default delay (`pyworkerd.queueProducers`, wrangler's
 * [[queues.producers]] delivery_delay): for messages sent without delaySeconds. */
typedef struct {
    char *binding;
    unsigned delivery_delay_s;      /* 0..PW_QUEUE_MAX_DELAY_S */
} pw_queue_producer_t;

#define PW_QUEUE_MAX_BATCH 100          /* messages per batch (sendBatch and delivery) */
#define PW_QUEUE_MAX_DELAY_S 86400      /* delaySeconds, retry_delay: 24 hours */
#define PW_QUEUE_MAX_NAME 63

/* The worker's `pyworkerd = (...)` extension field: 0 = the command line's value. */
typedef struct {
    unsigned memory_limit_mib;
    unsigned cpu_limit_ms;
    unsigned request_timeout_ms;
    unsigned max_concurrent;
    unsigned min_isolates;
    unsigned max_isolates;
    pw_queue_consumer_t *queue_consumers;
    size_t n_queue_consumers;
    pw_queue_producer_t *queue_producers;
    size_t n_queue_producers;
    char **crons;                   /* cron expressions (config/cron.h), each checked */
    size_t n_crons;
} pw_worker_options_t;

/* A Durable Object class the worker implements (durableObjectNamespaces). */
typedef struct {
    char *class_name;
    char *unique_key;       /* ids are derived from it; its storage directory's name */
    int prevent_eviction;   /* objects stay in memory while their isolate lives */
    int enable_sql;         /* storage.sql is offered */
    char *where;            /* "FILE:LINE: " of its className in the config, or "" */
} pw_do_namespace_t;

/* Where a worker's Durable Objects keep their storage (durableObjectStorage). */
typedef enum {
    PW_DO_STORAGE_NONE,     /* none (the default): no namespace may be defined */
    PW_DO_STORAGE_MEMORY,   /* inMemory: for the life of the process */
    PW_DO_STORAGE_DISK,     /* localDisk: <disk>/<uniqueKey>/<id>.sqlite */
} pw_do_storage_t;

typedef struct {
    pw_module_t *modules;   /* modules[0] is the main module */
    size_t n_modules;
    char *compat_date;      /* "YYYY-MM-DD" */
    char **compat_flags;
    size_t n_compat_flags;
    pw_binding_t *bindings;
    size_t n_bindings;
    char *global_outbound;  /* the network service its fetch() goes through ("internet") */
    pw_worker_options_t options;
    pw_do_namespace_t *do_namespaces;   /* durableObjectNamespaces: the classes it implements */
    size_t n_do_namespaces;
    pw_do_storage_t do_storage;         /* durableObjectStorage */
    char *do_storage_disk;              /* PW_DO_STORAGE_DISK: the (writable) disk service */
} pw_worker_t;

typedef enum {
    PW_SERVICE_WORKER,
    PW_SERVICE_NETWORK,
    PW_SERVICE_EXTERNAL,
    PW_SERVICE_DISK,
} pw_service_kind_t;

/* How outbound TLS verifies servers (workerd's TlsOptions, as a client). Without tlsOptions
 * the system's CAs are trusted (workerd's implied "internet" service sets trustBrowserCas);
 * with them, the system's CAs only when trustBrowserCas, plus trustedCertificates. */
typedef enum {
    PW_TLS_MIN_DEFAULT, PW_TLS_MIN_1_0, PW_TLS_MIN_1_1, PW_TLS_MIN_1_2, PW_TLS_MIN_1_3,
} pw_tls_min_t;

typedef struct {
    int trust_system;           /* the system's CA store */
    char *trusted_pem;          /* trustedCertificates, concatenated PEM; NULL when none */
    pw_tls_min_t min_version;
} pw_tls_client_t;

typedef struct {
    char *name;
    pw_service_kind_t kind;
    pw_worker_t worker;         /* PW_SERVICE_WORKER */
    char **network_allow;       /* PW_SERVICE_NETWORK (default ["public"]) */
    size_t n_network_allow;
    char **network_deny;
    size_t n_network_deny;
    pw_tls_client_t network_tls;    /* PW_SERVICE_NETWORK: network.tlsOptions */
    char *external_address;     /* PW_SERVICE_EXTERNAL (http only) */
    char *disk_path;            /* PW_SERVICE_DISK */
    int disk_writable;
    int disk_allow_dotfiles;
    /* disk.assets (pyworkerd's extension, from wrangler's [assets]): the directory answers as
     * Cloudflare's static assets do (http/assets_rules.h); NULL words: the defaults */
    int disk_assets;
    char *assets_html_handling;
    char *assets_not_found_handling;
    char *assets_worker;        /* a socket serving it calls this worker when no asset answers */
    char **assets_worker_first; /* runWorkerFirst glob patterns; "!" excludes */
    size_t n_assets_worker_first;
    int external_tcp;           /* PW_SERVICE_EXTERNAL: `tcp` (a hyperdrive's database) */
} pw_service_t;

typedef struct {
    char *name;
    char *address;              /* "host:port", "*:port", "[v6]:port"; CLI override applied;
                                 * NULL when listen_fd is set */
    int listen_fd;              /* -S name=fd: an inherited listening socket (-1: none) */
    char *service;              /* name of the service it routes to */
    int https;                  /* https = (options, tlsOptions): TLS, HTTP/2 offered by ALPN */
    char *tls_certificate_chain;    /* https: tlsOptions.keypair, PEM */
    char *tls_private_key;
    pw_tls_min_t tls_min_version;
} pw_socket_t;

typedef struct {
    char *const_name;           /* the Config constant that was evaluated */
    char *dir;                  /* absolute directory of the config file: python_modules/,
                                 * pyproject.toml and requirements.txt are looked up there */
    pw_service_t *services;
    size_t n_services;
    pw_socket_t *sockets;
    size_t n_sockets;
    char **inputs;              /* real paths of the config file and of every file it imports
                                 * or embeds (pyworkerd's schema aside): what --watch watches */
    size_t n_inputs;
} pw_config_t;

typedef struct {
    const char *name;           /* socket or service name */
    const char *address;        /* the value given */
} pw_socket_override_t;

typedef struct {
    const char *config_path;    /* the user's config file */
    const char *const_name;     /* NULL: the file's only top-level Config constant */
    const char *const *import_paths;   /* -I dirs, in order */
    size_t n_import_paths;
    const char *schema_dir;     /* dir holding workerd/workerd.capnp (pyworkerd's schema) */
    const pw_socket_override_t *socket_overrides;
    size_t n_socket_overrides;
    const pw_socket_override_t *socket_fds;             /* -S: address = fd number */
    size_t n_socket_fds;
    const pw_socket_override_t *directory_overrides;    /* -d: address = path */
    size_t n_directory_overrides;
    const pw_socket_override_t *external_overrides;     /* -e */
    size_t n_external_overrides;
    const char *today;          /* "YYYY-MM-DD" used for the future-date check; NULL = now */
    const char *default_compat_date;    /* --compat-date: a worker's date when it gives none */
} pw_config_options_t;

/* Loads and validates. Returns 0 and sets *out, or a negative value with a message in
 * err (NUL-terminated, possibly several lines, no trailing newline). */
int pw_config_load(const pw_config_options_t *opts, pw_config_t **out, char *err, size_t err_len);
void pw_config_free(pw_config_t *config);

/* A config evaluated elsewhere (a wrangler project translated by config/wrangler.c): the
 * Config as `capnp eval -ojson` prints it, the text of the file it came from (messages name
 * opts->config_path and a line of this text) and the files --watch reloads on. */
typedef struct {
    const char *json;
    size_t json_len;
    const char *source;
    size_t source_len;
    const char *const *inputs;      /* real paths */
    size_t n_inputs;
} pw_config_json_t;

/* pw_config_load() for an evaluated config: the same checks, the same results. */
int pw_config_load_json(const pw_config_options_t *opts, const pw_config_json_t *in,
                        pw_config_t **out, char *err, size_t err_len);

/* Looks a service up by name; NULL when absent. */
const pw_service_t *pw_config_service(const pw_config_t *config, const char *name);

/* 1 when `name` is a valid queue name (1..PW_QUEUE_MAX_NAME of a-z, 0-9, '-', '_'). */
int pw_queue_name_valid(const char *name);

/* 1 when the worker has the compatibility flag `flag`, else 0. */
int pw_worker_has_flag(const pw_worker_t *worker, const char *flag);

#endif
