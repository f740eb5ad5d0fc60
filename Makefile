# Vestio: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
SERVICE ?= auth
USERS ?= 64
DURATION ?= 30s
TARGET ?= gateway
BENCH_DURATION ?= 10s
INVESTORS ?= 32
CONNECTIONS ?= 32
BENCH_INVOICES ?= 800
BENCH_CLIENTS ?= 1000
BENCH_RATE ?= 1000

.PHONY: help test test-cluster fmt fmt-check clippy nextest lint build build-release run stop rss link-order trace conformance create-admin demo race-accept loadtest bench bench-cluster k8s-validate docs

help: ## This list.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: ## Format check, clippy, and the whole test suite against local PostgreSQL and Redis.
	bash scripts/ensure-backing-services.sh
	bash scripts/ensure-test-tools.sh
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) nextest run --workspace --locked --no-tests=fail

test-cluster: ## The test suite again on a local Redis Cluster of 3 primaries and 3 replicas (scripts/redis-cluster.sh).
	bash scripts/ensure-backing-services.sh
	CARGO="$(CARGO)" bash scripts/test-cluster.sh

faults: ## Only the fault tests (workers killed, Redis restarted or killed, database sessions ended, the whole stack under faults); STACK_BIN_DIR=<dir> runs the stack's on other binaries (a release build)
	bash scripts/ensure-backing-services.sh
	bash scripts/ensure-test-tools.sh
	$(CARGO) build --workspace --bins --locked
	$(CARGO) nextest run --workspace --locked --no-tests=fail --no-capture \
	  -E '(test(/killed|killing|restart|sessions_ended|database_sessions|hung/) & not package(testkit)) | binary(db_faults)'

fmt: ## Format the code.
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

nextest:
	bash scripts/ensure-backing-services.sh
	$(CARGO) nextest run --workspace --locked

build: ## Debug build of every service.
	$(CARGO) build --workspace --locked

build-release: ## Release build of every service.
	$(CARGO) build --workspace --release --locked --bins

docs: ## Regenerate the event catalogue in docs/messaging.md.
	UPDATE_DOCS=1 $(CARGO) test -p common --lib docs_messaging

lint: ## fmt + clippy, Dockerfile (hadolint), compose, shell scripts and the gateway config.
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	bash deploy/lint.sh

k8s-validate: ## Render both Kubernetes overlays and check them (kubernetes-validate, checkov).
	bash deploy/k8s-validate.sh

run: ## The whole stack behind the gateway on :8080 (Ctrl-C stops it); REDIS=cluster on a local Redis Cluster.
	bash scripts/run.sh

stop: ## Stop what make run started.
	bash scripts/stop.sh

rss: ## Resident memory of each service make run started: code, read-only data, anonymous (docs/performance.md, "Memory")
	bash scripts/rss.sh

link-order: ## Remake .cargo/link-order.txt: the functions the services run at start and idle (callgrind), the order release binaries' code is laid out in (IDLE=30, BIN_DIR=...)
	IDLE=$(or $(IDLE),30) bash scripts/link-order.sh

trace: ## Traces make run received: make trace (the last 3), ROUTE=offers, ID=<trace id>, N=5, LIST=1
	@ID="$(ID)" ROUTE="$(ROUTE)" N="$(N)" LIST="$(LIST)" bash scripts/trace.sh

conformance: ## schemathesis (all checks) on every OpenAPI document through the gateway of a stack of its own
	bash scripts/conformance.sh

create-admin: ## An admin in the running stack: make create-admin EMAIL=.. PASSWORD=..
	EMAIL="$(EMAIL)" PASSWORD="$(PASSWORD)" bash scripts/create-admin.sh

demo: ## Walk through every flow through the gateway of a running stack.
	$(CARGO) run --release --locked --quiet -p demo -- --gateway http://127.0.0.1:$${GATEWAY_PORT:-8080}

race-accept: ## N (100) rounds of an accept racing six revisions through the gateway: make race-accept ROUNDS=100 (needs ADMIN_EMAIL/ADMIN_PASSWORD)
	$(CARGO) run --release --locked --quiet -p demo -- --gateway http://127.0.0.1:$${GATEWAY_PORT:-8080} --race-accept $${ROUNDS:-100}

bench: ## The hot paths (cached search, trending, listing view, notifications list, place offer, WebSocket delivery) against a running stack, one table beside redis-benchmark GET and pgbench (needs ADMIN_EMAIL/ADMIN_PASSWORD): make bench BENCH_DURATION=10s INVESTORS=32
	$(CARGO) run --release --locked --quiet -p loadtest -- --service bench --target direct --duration $(BENCH_DURATION) --investors $(INVESTORS) --connections $(CONNECTIONS) --invoices $(BENCH_INVOICES) --clients $(BENCH_CLIENTS) --rate $(BENCH_RATE) $(if $(PGBENCH_URL),--pgbench-url $(PGBENCH_URL)) $(if $(BENCH_REDIS),--redis $(BENCH_REDIS))

bench-cluster: ## make bench and the notifications consumer on one Redis, then on a local Redis Cluster, same binaries, one run (its own stacks on make run's ports; docs/scaling.md): make bench-cluster [BIN_DIR=...]
	$(if $(BIN_DIR),BIN_DIR=$(BIN_DIR)) BENCH_DURATION=$(BENCH_DURATION) BENCH_INVOICES=$(BENCH_INVOICES) INVESTORS=$(INVESTORS) CONNECTIONS=$(CONNECTIONS) BENCH_CLIENTS=$(BENCH_CLIENTS) BENCH_RATE=$(BENCH_RATE) bash scripts/bench-cluster.sh

# SERVICE=notifications-ws takes CLIENTS (WebSocket clients, 1000) and RATE (notifications/s, 1000).
loadtest: ## Load-test one service against a running stack: make loadtest SERVICE=auth USERS=64 DURATION=30s TARGET=gateway
	$(CARGO) run --release --locked --quiet -p loadtest -- --service $(SERVICE) --users $(USERS) --duration $(DURATION) --target $(TARGET) $(if $(LOADTEST_HOST),--host $(LOADTEST_HOST)) $(if $(CLIENTS),--clients $(CLIENTS)) $(if $(RATE),--rate $(RATE)) $(if $(FINANCINGS),--financings $(FINANCINGS)) $(if $(SELLERS),--sellers $(SELLERS)) $(if $(PGBENCH_URL),--pgbench-url $(PGBENCH_URL)) $(if $(EVENTS),--events $(EVENTS)) $(if $(ROWS),--rows $(ROWS)) $(if $(INVOICES),--invoices $(INVOICES))
