# pyworkerd build. `make` builds build/pyworkerd (and build/pyext/_pyworkerd.so, which /usr/bin/python3.11 runs
# as its zygote, and build/pyworkerd-isolate, the fallback); `make run` serves examples/hello;
# `make test` runs the C unit tests and the end-to-end suite, then both again against an
# AddressSanitizer/UBSan build (`make asan` alone). `make deps` installs missing Debian packages.

PKGS    := libh2o libuv python3-embed libcjson libseccomp sqlite3 libcurl libpq
CC      ?= cc
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fno-strict-aliasing \
           -D_GNU_SOURCE -DH2O_USE_LIBUV=1 -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PYTHON  := /usr/bin/python3.11
BUILD   ?= build

# Folders are processes (ARCHITECTURE.md): each side is built from whole folders.
#   host  (build/pyworkerd):             base config http host storage wire + main.c
#   child (zygote, templates, isolates):  base wire isolate python + isolate_main.c, also
#         as the extension module build/pyext/_pyworkerd.so
# The host does not link libpython; the child links none of h2o, libuv, OpenSSL, curl, SQLite.
HOST_DIRS  := base config http host storage wire
CHILD_DIRS := base wire isolate python
SRCS      := $(sort $(wildcard src/*/*.c))
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
HOST_OBJS := $(foreach d,$(HOST_DIRS),$(filter $(BUILD)/obj/$(d)/%,$(OBJS)))
MAIN_OBJ  := $(BUILD)/obj/main.o
# libcurl and libpq are not linked: http/curl_lazy.c and storage/pq_lazy.c load them at their
# first use (base/lazy_lib.h), so that a start maps ~28 fewer libraries.
HOST_PKGS := libh2o libuv libcjson sqlite3
LDLIBS    := $(shell pkg-config --libs $(HOST_PKGS) 2>/dev/null) -lssl -lcrypto -ldl -lpthread -lm
# build/pyworkerd-isolate (the zygote's and cold isolates' binary): the child side only
ISO_MAIN_OBJ := $(BUILD)/obj/isolate_main.o
ISO_OBJS  := $(foreach d,$(CHILD_DIRS),$(filter $(BUILD)/obj/$(d)/%,$(OBJS)))
ISO_LIBS  := $(shell pkg-config --libs python3-embed libcjson libseccomp 2>/dev/null) -lm
# C unit tests may test either side: they link both, and every library.
ALL_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lssl -lcrypto -lm
# The same code as an extension module, which Debian's /usr/bin/python3.11 runs as the zygote and
# cold isolates (isolate/child_command.h: that interpreter runs Python ~20 % faster than
# libpython3.11.so). Not in the sanitizer build (`make asan` sets PYEXT empty): an instrumented
# module cannot load into an uninstrumented interpreter, so that build runs pyworkerd-isolate.
PYEXT      ?= $(BUILD)/pyext/_pyworkerd.so
PYEXT_OBJS := $(ISO_OBJS:$(BUILD)/obj/%=$(BUILD)/pic/%)
PYEXT_LIBS := $(shell pkg-config --libs libcjson libseccomp 2>/dev/null) -lm
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# Fuzz targets (tests/fuzz): the host's decoders of what isolates and KV services send, each
# built with its own sources under ASan+UBSan and run by `make unit` on its seeds plus
# FUZZ_ITERATIONS deterministic mutations (driver.c); `make fuzz` is the libFuzzer build.
FUZZ_SRCS       := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS       := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_SRCS   := src/base/buf.c src/wire/frame.c src/wire/rpc.c src/wire/control.c src/wire/header_lines.c src/storage/kv_http.c \
                   src/http/request_head.c src/config/precheck.c src/isolate/guard_relay.c \
                   src/config/cron.c src/host/queue_answer.c \
                   src/http/byte_range.c src/http/static_path.c \
                   src/wire/ws_frames.c src/http/ws_codec.c \
                   src/http/url_pattern.c src/http/assets_redirects.c src/http/assets_headers.c src/base/err.c
FUZZ_SANITIZE   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_LIBS       := $(shell pkg-config --libs libcjson 2>/dev/null) -lcrypto -lm
# fuzz_rpc: rpc.c, the binding-kind table and every kind it drives, with the real port, and
# the pool and fetch.c's transfers stubbed in the target; its error log is quiet unless FUZZ_LOG=1 (--wrap=pw_log_error)
FUZZ_RPC_SRCS   := src/base/buf.c src/base/log.c src/base/fd.c src/host/port.c src/host/watched_call.c src/http/request_id.c \
                   src/host/rpc.c src/host/rpc_forward.c src/host/mailbox.c src/host/binding.c src/host/binding_kv.c \
                   src/host/binding_service.c src/host/binding_fetch.c src/host/binding_workflows.c \
                   src/host/kv_remote.c src/host/worker_call.c src/host/workflows.c \
                   src/host/binding_d1.c src/host/disk_dir.c src/storage/d1_sqlite.c \
                   src/storage/d1_json.c src/storage/d1_statements.c \
                   src/storage/workflow.c src/storage/workflow_sqlite.c src/storage/pg_workflow.c src/storage/sqlite_db.c src/storage/kv.c src/storage/kv_disk.c \
                   src/storage/kv_http.c src/storage/kv_http_backend.c src/http/fetch_policy.c \
                   src/wire/frame.c src/wire/rpc.c src/wire/header_lines.c \
                   src/host/binding_r2.c src/host/r2_json.c src/host/r2_stream.c src/storage/r2_rules.c \
                   src/storage/r2_blobs.c src/storage/r2_disk.c \
                   src/host/binding_memory_cache.c src/storage/memory_cache.c \
                   src/host/binding_queue.c src/host/queues.c src/host/queue_answer.c \
                   src/storage/queue_sqlite.c \
                   src/host/binding_disk.c src/http/static_answer.c src/http/static_dir.c \
                   src/http/static_assets.c src/http/assets_rules.c src/http/assets_files.c \
                   src/http/assets_redirects.c src/http/assets_headers.c src/http/url_pattern.c \
                   src/http/static_path.c src/http/byte_range.c src/http/mime_types.c \
                   src/http/http_date.c src/base/err.c \
                   src/host/binding_do.c src/host/do_objects.c src/host/do_alarm.c src/host/do_id.c \
                   src/host/do_sockets.c src/host/ws_bridge.c \
                   src/storage/do_sqlite.c src/storage/do_sql.c \
                   src/host/binding_socket.c src/host/socket_tls.c src/host/outbound_policy.c \
                   src/host/binding_websocket.c src/host/ws_isolate.c src/http/ws_codec.c src/wire/ws_frames.c \
                   src/storage/kv_common.c src/storage/pg_kv.c src/storage/pg_pool.c src/storage/pg_queue.c \
                   src/host/do_cluster.c src/host/do_forward.c src/host/cluster_port.c src/storage/pg_do.c \
                   src/host/cluster_call.c src/host/cluster_leases.c src/host/cluster_ship.c \
                   src/host/d1_cluster.c src/storage/pg_leases.c src/storage/pg_d1.c \
                   src/http/request_head.c
FUZZ_RPC_LIBS   := $(shell pkg-config --libs libcjson sqlite3 libuv libpq 2>/dev/null) -lssl -lcrypto -lm
FUZZ_ITERATIONS ?= 200000
FUZZ_SECONDS    ?= 60

.PHONY: all deps run test unit e2e asan fuzz clean
all: $(BUILD)/pyworkerd $(BUILD)/pyworkerd-isolate $(PYEXT) $(BUILD)/python-bytecode.stamp

# The SDK's bytecode, next to its sources (python/**/__pycache__): every zygote and cold isolate
# imports the SDK, and CPython, which never writes bytecode there, would otherwise compile it
# at each start (half of a cold start). A source edited later is compiled again in memory.
PY_SRCS := $(shell find python -name '*.py' 2>/dev/null)
$(BUILD)/python-bytecode.stamp: $(PY_SRCS)
	@mkdir -p $(dir $@)
	$(PYTHON) -m compileall -q python
	@touch $@

deps:
	@./scripts/install-deps

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pyworkerd: $(HOST_OBJS) $(MAIN_OBJ)
	$(CC) $(ALL_CFLAGS) -rdynamic $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/pyworkerd-isolate: $(ISO_OBJS) $(ISO_MAIN_OBJ)
	$(CC) $(ALL_CFLAGS) -rdynamic $^ -o $@ $(LDFLAGS) $(ISO_LIBS)

$(BUILD)/pic/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@

ifneq ($(PYEXT),)
$(PYEXT): $(PYEXT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared $^ -o $@ $(LDFLAGS) $(PYEXT_LIBS)
endif

$(BUILD)/tests/%: tests/unit/%.c $(OBJS) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(OBJS) -o $@ $(LDFLAGS) $(ALL_LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(FUZZ_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_SANITIZE) -Itests/fuzz $< tests/fuzz/driver.c $(FUZZ_LIB_SRCS) -o $@ $(FUZZ_LIBS)

$(BUILD)/fuzz/fuzz_rpc: tests/fuzz/fuzz_rpc.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(FUZZ_RPC_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_SANITIZE) -Itests/fuzz $< tests/fuzz/driver.c $(FUZZ_RPC_SRCS) -o $@ -Wl,--wrap=pw_log_error $(FUZZ_RPC_LIBS)

run: deps
	$(MAKE) all
	$(BUILD)/pyworkerd serve examples/hello/config.capnp -s http=127.0.0.1:8080

unit: $(UNIT_BINS) $(FUZZ_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
	@set -e; for t in $(FUZZ_BINS); do echo "== $$t"; \
	    ASAN_OPTIONS=detect_leaks=1 FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) $$t; done

# libFuzzer, when clang is installed (it is not by default): each target for FUZZ_SECONDS,
# starting from the seeds the gcc build writes.
fuzz: $(FUZZ_BINS)
	@if ! command -v clang >/dev/null; then echo "make fuzz: clang is not installed; \`make unit\` runs the gcc fuzz driver"; exit 0; fi; \
	set -e; for src in $(FUZZ_SRCS); do \
	    name=$$(basename $$src .c); bin=$(BUILD)/libfuzzer/$$name; corpus=$(BUILD)/libfuzzer/$$name-corpus; \
	    mkdir -p $$corpus; $(BUILD)/fuzz/$$name --write-seeds $$corpus; \
	    clang -std=gnu11 -D_GNU_SOURCE -Isrc -Itests/fuzz $(shell pkg-config --cflags libcjson) -g -O1 \
	        -fsanitize=fuzzer,address,undefined $$src $(FUZZ_LIB_SRCS) -o $$bin $(FUZZ_LIBS); \
	    $$bin -max_total_time=$(FUZZ_SECONDS) $$corpus; done

e2e: $(BUILD)/pyworkerd $(BUILD)/pyworkerd-isolate $(PYEXT) $(BUILD)/python-bytecode.stamp
	PYWORKERD_BIN=$(abspath $(BUILD)/pyworkerd) $(PYTHON) -m pytest -q tests/python tests/e2e $(PYTEST_ARGS)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) e2e
	$(MAKE) asan

asan:
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) BUILD=build-asan PYEXT= CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all unit e2e

clean:
	rm -rf build build-asan

-include $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(ISO_MAIN_OBJ:.o=.d) $(PYEXT_OBJS:.o=.d)
