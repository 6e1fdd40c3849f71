# capprof — see README.md. Targets that load BPF need root.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 10s
# Packages the integration tests need; `make deps` installs what is missing.
TEST_DEBS := containerd runc busybox-static util-linux
GEN_DEBS  := clang llvm libbpf-dev

.PHONY: all build run test test-unit vet deps deps-generate generate check-generate vmlinux bench-kernel fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/capprof ./cmd/capprof

# The main job: record every capability check on this host, pretty-printed,
# until Ctrl-C. Pass flags with ARGS, e.g. make run ARGS="--format json --verdict denied".
run: build
	$(BIN)/capprof record $(ARGS)

# The whole suite: unit tests, and the integration tests against the real
# kernel, cgroups and containerd (root). With CI=true a missing prerequisite
# fails a test instead of skipping it.
test: deps vet
	$(GO) test -tags integration -count=1 ./...

# Unit tests only: no root, no BPF.
test-unit:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

deps-generate:
	@missing=""; for p in $(GEN_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

# Rebuild the committed BPF objects and bindings (clang) and syscall tables.
generate: deps-generate
	$(GO) generate ./bpf/ ./internal/syscalls/

# CI: the committed generated files must be what `make generate` makes.
check-generate: generate
	@git diff --exit-code --stat -- bpf internal/syscalls || \
	  { echo "generated files are stale: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- bpf internal/syscalls); \
	  if [ -n "$$untracked" ]; then echo "generated files not committed: $$untracked"; exit 1; fi

# Regenerate bpf/vmlinux.h from the running kernel's BTF (bpftool).
vmlinux:
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

# Per-check cost: nothing attached vs an empty program vs capprof unique and
# stream, side by side. ROUNDS and N tune the run.
bench-kernel:
	$(GO) build -o $(BIN)/benchkernel ./test/benchkernel
	$(BIN)/benchkernel -rounds $${ROUNDS:-11} -n $${N:-1000000}

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./internal/cgroup/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSet$$' -fuzztime $(FUZZTIME) ./internal/caps/
	$(GO) test -run '^$$' -fuzz '^FuzzName$$' -fuzztime $(FUZZTIME) ./internal/syscalls/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/tracer/

clean:
	rm -rf $(BIN)
