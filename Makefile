# Every target installs what it needs into .venv first, so a fresh clone works with one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
NODE_STAMP := node_modules/.installed-inspector

.PHONY: run test bench lint fmt clean install

$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) scripts/install-venv $(VENV) dev
	@rm -f $(VENV)/.installed-*; touch $@

# The MCP Inspector CLI is the independent MCP client the end-to-end tests drive.
$(NODE_STAMP): package.json
	@npm install --no-audit --no-fund --silent
	@touch $@

install: $(STAMP)

# The main job: the MCP server over streamable HTTP on loopback (prints its URL and token).
# No API key configured? It runs against the built-in simulator and says so.
# Other options: make run ARGS="--transport stdio" (see: .venv/bin/poe-mcp serve --help)
run: $(STAMP)
	@$(BIN)/poe-mcp serve --transport http --simulate-if-no-key $(ARGS)

test: $(STAMP) $(NODE_STAMP)
	@scripts/ensure-redis
	@scripts/ensure-tmux
	@scripts/ensure-chromium
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# Style, docstrings (Google), complexity (15), 600-line files, strict types on src, relaxed on tests.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python scripts/check-file-sizes src tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
