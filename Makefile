# One entry point for people and CI. `make demo` and `make check` are the README's quick start.
.PHONY: setup demo check lint test fuzz bench clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

lint:
	.venv/bin/ruff format --check src tests bench scripts
	.venv/bin/ruff check src tests bench scripts
	.venv/bin/mypy
	.venv/bin/lint-imports

test:
	.venv/bin/pytest -q -n 2  # two workers: the suite waits on subprocesses, servers and git as much as on CPU

check: setup lint test fuzz

fuzz:
	.venv/bin/python scripts/fuzz.py --seconds 30

bench: setup
	.venv/bin/python bench/run.py
	.venv/bin/python bench/render_bench.py --sample 100
	.venv/bin/python bench/validate_bench.py
	.venv/bin/python bench/plan_bench.py
	.venv/bin/python bench/drift_bench.py
	.venv/bin/python bench/drift_bench.py --memory 50,100,200,400,800
	.venv/bin/python bench/server_bench.py
	.venv/bin/python bench/ship_bench.py
	.venv/bin/python bench/outbox_bench.py

clean:
	rm -rf .venv demo bench/out .pytest_cache .mypy_cache .ruff_cache
