# One command sets everything up: `make demo` or `make test` on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What a run needs (`make install`, `make demo`): the runtime and the default model. The
# test suite adds the dev tools, the training stack (torch: about 2 GB) and the small 0.5B
# model, which the training tests start from and most real-model tests run for speed.
EXTRAS ?= model
TEST_EXTRAS ?= $(EXTRAS),model-0_5b,dev,train
# One stamp per set of extras: a venv installed for `make demo` gets the rest when
# `make test` first runs, and changing EXTRAS installs again.
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),+,$(EXTRAS))
TEST_STAMP := $(VENV)/.installed-$(subst $(comma),+,$(TEST_EXTRAS))
# llama.cpp parts da never loads, left out of the llama-cpp-python build: the multimodal
# library (mtmd/llava: llama_cpp imports it only for image chat handlers), and llama.cpp's
# tools, examples, server and tests. Only a source build reads these: pip reuses a wheel it
# has cached for llama-cpp-python==0.3.36 whatever CMAKE_ARGS say.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF
# On a CPU with AMX (Intel Sapphire Rapids and later) a native build compiles llama.cpp's AMX
# matrix kernels, and they crash on Q4_K weights, the default model's (a segfault in
# ggml_backend_amx_mul_mat at the first token, seen here; ggml-org/llama.cpp#20824, closed
# without a fix). There they are compiled out: an explicit -mno-amx-* beats -march=native
# in GCC and Clang, whatever the order. A wheel pip cached, or a build already in the venv,
# may have them, so such a host builds afresh (see llama-without-amx).
AMX := $(shell grep -qw amx_int8 /proc/cpuinfo 2>/dev/null && echo yes)
NO_AMX_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
LLAMA_BUILD_ENV := CMAKE_ARGS="$(if $(GPU),-DGGML_CUDA=on )$(LLAMA_CMAKE_ARGS)"$(if $(AMX), CFLAGS="$(NO_AMX_FLAGS)" CXXFLAGS="$(NO_AMX_FLAGS)")
LLAMA_CPU_LIB = $(wildcard $(VENV)/lib/python*/site-packages/llama_cpp/lib/libggml-cpu.so)
# Debian packages for the sandbox (bubblewrap), reports (Pango for WeasyPrint, poppler).
SYSTEM_PACKAGES := bubblewrap poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
PYTEST_ARGS ?=

.PHONY: install install-test demo test test-all bench eval lint system-deps clean llama-without-amx

install: $(STAMP)
install-test: $(TEST_STAMP)

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	# llama-cpp-python builds from source (about 6.5 min on 2 cores; pip caches the wheel).
	# With an NVIDIA GPU it is built with CUDA, bypassing a cached CPU-only wheel; on an AMX
	# CPU without the AMX kernels, bypassing a cached wheel that may have them.
	$(LLAMA_BUILD_ENV) $(BIN)/pip install $(if $(GPU)$(AMX),--no-cache-dir) -e ".[$(EXTRAS)]"
	@$(MAKE) --no-print-directory llama-without-amx
	$(BIN)/da models install
	touch $@

# The rest of what the tests need, into the same venv (llama-cpp-python is already there).
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -e ".[$(TEST_EXTRAS)]"
	$(BIN)/da models install qwen2.5-coder-0.5b
	# llama.cpp's HF -> GGUF converter for `da train export`, from the llama-cpp-python sdist (once).
	if [[ ",$(TEST_EXTRAS)," == *,train,* ]]; then $(BIN)/python -m train.converter \
	  || echo "warning: could not fetch the GGUF converter; da train export will retry"; fi
	touch $@

# On an AMX host, a llama.cpp already in the venv (or from pip's wheel cache) that has the AMX
# kernels is built again without them, from source and without the cache.
llama-without-amx:
	@if [ -n "$(AMX)" ] && [ -n "$(LLAMA_CPU_LIB)" ] && grep -q ggml_backend_amx_mul_mat $(LLAMA_CPU_LIB); then \
	  echo "llama.cpp has AMX kernels, which crash on this CPU: building it again without them"; \
	  version=$$($(BIN)/python -c "import llama_cpp; print(llama_cpp.__version__)"); \
	  $(LLAMA_BUILD_ENV) $(BIN)/pip install --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$$version"; \
	fi

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
	    || echo "warning: could not install $$missing; sandbox namespaces and PDF reports may be unavailable"; \
	else \
	  echo "note: install these system packages for full isolation and PDF reports: $$missing"; \
	  echo "      (Debian/Ubuntu: sudo apt-get install $$missing; macOS: brew install pango poppler)"; \
	fi

# Exit 6 means a budget ran out and a partial answer was printed: still a finished demo.
demo: install
	$(BIN)/da analyze examples/sales.xlsx "why did Q3 drop?" || [ $$? -eq 6 ]

# The suite with a small, meaningful subset of the slow real-model tests.
test: install-test
	$(BIN)/ruff check da_cli train tests bench examples
	$(BIN)/pytest -m "not slow or smoke" $(PYTEST_ARGS)

# Every test, the slow real-model ones included.
test-all: install-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Accuracy on InfiAgent-DABench dev (resumable; EVAL_ARGS="--limit 20 --model …").
DABENCH ?= ../shared/eval/dabench-dev
EVAL_ARGS ?=
eval: install
	$(BIN)/da eval dabench --data $(DABENCH) $(EVAL_ARGS)

lint: install-test
	$(BIN)/ruff check da_cli train tests bench examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
