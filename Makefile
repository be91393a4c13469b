# tradehost: set-up, build, run and test. `make run` and `make test` are the whole set-up on a
# fresh Debian 12 machine: they install what is missing (apt-get, as root), build, then act.

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
CONFIG     ?= configs/dev.yaml
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build and test dependencies (Debian 12 package names, see docs/dependencies.md).
DEB_PACKAGES := build-essential cmake pkg-config python3 curl openssl \
  libnats-dev nats-server libboost-dev libboost-filesystem-dev libyaml-cpp-dev \
  nlohmann-json3-dev libvalijson-dev libssl-dev libsqlite3-dev sqlite3 prometheus-cpp-dev libquickfix-dev \
  libgtest-dev libgmock-dev libbenchmark-dev prometheus \
  rpm rpmlint lintian systemd man-db file dpkg-dev python3-yaml abigail-tools adduser
# Extra tools for benchmarks and packaging checks.
BENCH_PACKAGES   := wrk nginx-light
PACKAGE_PACKAGES := rpm rpmlint lintian abigail-tools systemd man-db dpkg-dev file
# Fuzzing (libFuzzer is clang's) and static checks; see docs/testing.md.
CLANG_PACKAGES := clang libclang-rt-14-dev
LINT_PACKAGES  := clang-tidy clang-format

# Instrumented builds, each in its own directory.
ASAN_DIR     ?= build-asan
TSAN_DIR     ?= build-tsan
FUZZ_DIR     ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := webhook json_codec canonical_json deployment http_request
# Sources the format and lint checks cover (tests/abi-v1.0 is a frozen copy of the 1.0 header).
CHECKED_SOURCES = $$(git ls-files 'host/*' 'plugin-api/*' 'plugins/*' 'tests/*' 'bench/*' 'examples/*' \
  | grep -E '\.(c|h|cpp|hpp)$$' | grep -v '^tests/abi-v1.0/')

.PHONY: all deps build runtime run test soak bench package package-test format format-check lint fuzz \
  test-sanitize test-tsan clean

all: build

# Idempotent and quick when everything is present: one dpkg-query, no apt-get.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

$(BUILD_DIR)/CMakeCache.txt:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds only the binary and the built-in plugins, quietly (the log is kept for a failure).
runtime: deps $(BUILD_DIR)/CMakeCache.txt
	@echo "building tradehost and its plugins ($(BUILD_DIR)/runtime-build.log)"
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target runtime > $(BUILD_DIR)/runtime-build.log 2>&1 || \
	  { tail -n 40 $(BUILD_DIR)/runtime-build.log; exit 1; }

run: runtime
	@./scripts/dev-setup.sh
	$(BUILD_DIR)/bin/tradehost run -c $(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Crash-consistency soak: SOAK_KILLS kill -9 points under webhook load, embedded and JetStream
# (host, nats-server, stream leader); the quick versions are in `make test`.
SOAK_KILLS ?= 30
soak: build
	TRADEHOST_SOAK_KILLS=$(SOAK_KILLS) $(BUILD_DIR)/bin/crash_consistency_test --gtest_filter='CrashConsistency.Soak'
	TRADEHOST_SOAK_KILLS=$(SOAK_KILLS) $(BUILD_DIR)/bin/jetstream_crash_test --gtest_filter='JetStreamCrash.Soak'

bench: build
	$(call install_missing,$(BENCH_PACKAGES))
	./scripts/bench.sh $(BUILD_DIR)

package: build
	$(call install_missing,$(PACKAGE_PACKAGES))
	cd $(BUILD_DIR) && cpack

# Checks the packages `make package` left in $(BUILD_DIR) (ctest's packaging_packages builds its own).
package-test: package
	PACKAGE_DIR=$(BUILD_DIR) ./packaging/test-packages.sh $(BUILD_DIR)

format:
	find host plugin-api plugins tests bench examples -name '*.[ch]pp' -o -name '*.[ch]' | xargs clang-format -i

# Fails when a file differs from .clang-format's style (`make format` rewrites them).
format-check:
	$(call install_missing,$(LINT_PACKAGES))
	@echo $(CHECKED_SOURCES) | xargs clang-format --dry-run -Werror

# clang-tidy with .clang-tidy over the project's .cpp files, from build/'s compile_commands.json
# (whose gcc-only flags, e.g. -Wno-restrict, clang would report as unknown).
lint: build
	$(call install_missing,$(LINT_PACKAGES))
	run-clang-tidy-14 -p $(BUILD_DIR) -quiet -extra-arg=-Wno-unknown-warning-option \
	  '^$(CURDIR)/(host|plugins|plugin-api|tests|bench|examples)/.*\.(c|cpp)$$'

# Every fuzz target for FUZZ_SECONDS each (libFuzzer, ASan, UBSan, leak checks): fails on any
# crash, leak or sanitizer report, leaving the input in $(FUZZ_DIR)/artifacts/.
fuzz: deps
	$(call install_missing,$(CLANG_PACKAGES))
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRADEHOST_FUZZ=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	./scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer (gcc).
test-sanitize: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRADEHOST_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) --timeout 1200

# The bus and hot-reload tests with ThreadSanitizer (gcc): data races and lock-order problems.
TSAN_TESTS := embedded_bus_test hot_reload_test
test-tsan: deps
	cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRADEHOST_SANITIZE=thread >/dev/null
	cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TESTS)
	for t in $(TSAN_TESTS); do \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 setarch $$(uname -m) -R $(TSAN_DIR)/bin/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)
