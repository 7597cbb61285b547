# The two commands of the README are `make run` and `make test`; both set up .venv first.
PY := .venv/bin/python
SANITIZE := $(wildcard notebooks/nbval-sanitize.cfg)
NBVAL := --nbval $(if $(SANITIZE),--nbval-sanitize-with $(SANITIZE))

.PHONY: setup run test notebooks lab bench clean-derived lock

setup:
	bash scripts/setup.sh

run: setup
	$(PY) -m toolkit run

test: setup
	$(PY) -m pytest $(NBVAL) tests notebooks

notebooks: setup
	$(PY) scripts/execute_notebooks.py notebooks/*.ipynb

lab: setup
	.venv/bin/jupyter lab notebooks/

bench: setup
	$(PY) benchmarks/run_all.py

clean-derived:
	rm -rf data/processed exports

lock: setup
	{ head -2 requirements.lock; .venv/bin/pip freeze --exclude-editable | sed 's/+cpu//'; } > requirements.lock.new && mv requirements.lock.new requirements.lock
