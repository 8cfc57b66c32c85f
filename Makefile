# Two commands do everything on a fresh clone (Python 3.11+ and make assumed):
#   make run    the main job on the embedded dataset
#   make test   the whole test suite (Ray tests included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# AutoGluon, for bench-peers only, in a venv of its own (its pins clash with uctune's: pyproject.toml).
PEERS  ?= .venv-peers
PEERS_STAMP := $(PEERS)/.installed
# The report's browser test drives Debian's Chromium (through Playwright, never its own download).
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint typecheck bench bench-tune bench-cluster bench-registry bench-gpu bench-nse bench-nn bench-predict bench-ensemble bench-scale bench-fidelity bench-quality bench-peers bench-export sqlite3-cli clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/uctune run $(ARGS)

$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

test: $(STAMP) sqlite3-cli $(CHROMIUM)
	$(BIN)/python -m pytest $(ARGS)

# The registry tests read registry.db with the plain sqlite3 client, as a user would: install
# Debian's sqlite3 package when the client is missing (CI runs as root on a clean machine).
sqlite3-cli:
	@command -v sqlite3 >/dev/null 2>&1 || { \
	  echo "installing the sqlite3 command-line client (Debian package sqlite3)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq sqlite3 >/dev/null; } && \
	command -v sqlite3 >/dev/null 2>&1 || { echo "make: the sqlite3 client could not be installed" >&2; exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py $(ARGS)

bench-tune: $(STAMP)
	$(BIN)/python benchmarks/bench_tune.py $(ARGS)

bench-cluster: $(STAMP)
	$(BIN)/python benchmarks/bench_cluster.py $(ARGS)

bench-registry: $(STAMP)
	$(BIN)/python benchmarks/bench_registry.py $(ARGS)

bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/bench_gpu.py $(ARGS)

# The full-archive NSE build (needs ../shared/data/real): wall time and peak memory.
bench-nse: $(STAMP)
	$(BIN)/python benchmarks/bench_nse.py $(ARGS)

bench-nn: $(STAMP)
	$(BIN)/python benchmarks/bench_nn.py $(ARGS)

bench-predict: $(STAMP)
	$(BIN)/python benchmarks/bench_predict.py $(ARGS)

# Calibration and the ensemble on make run's job: PR-AUC and ECE with intervals, the stage's cost.
bench-ensemble: $(STAMP)
	$(BIN)/python benchmarks/bench_ensemble.py $(ARGS)

# The seed's whole job (5 families x 100 trials x 5-fold CV) on 200,000 rows: wall time per family,
# trials, scores, peak memory of the driver and each Ray worker, CPU utilisation. Hours on 2 cores;
# ARGS="--data /tmp/nse/sample.parquet" runs it on the NSE sample, ARGS=--quick is a smoke run.
bench-fidelity: $(STAMP)
	$(BIN)/python benchmarks/bench_fidelity.py $(ARGS)

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py $(ARGS)

# Issue 19: do the tuned models beat their defaults on the test split? Per family and seed, tuned
# minus untuned PR-AUC and ROC-AUC with paired intervals, the winner's curse, the CV noise, the
# fidelity rungs' rank correlation, the ensemble against the best single model. ARGS="--data
# /tmp/nse/sample.parquet" runs it on the NSE sample (time split, 100 trials); ARGS=--quick smokes.
bench-quality: $(STAMP)
	$(BIN)/python benchmarks/bench_quality.py $(ARGS)

# The peers extra of pyproject.toml, installed alone (not uctune) into $(PEERS).
$(PEERS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['peers'], sep='\n')" > $(PEERS)/requirements.txt
	$(PEERS)/bin/python -m pip install --quiet -r $(PEERS)/requirements.txt
	touch $(PEERS_STAMP)

# Issue 19: AutoGluon-Tabular against a finished run (ARGS="--run-dir runs/<id>"), on the run's own
# train/test split, with the run's wall time as its time limit: test PR-AUC and ROC-AUC of both,
# paired bootstrap intervals of the differences. AutoGluon runs in $(PEERS)'s interpreter.
bench-peers: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python benchmarks/bench_peers.py --peers-python $(PEERS)/bin/python $(ARGS)

# Issue 21: `uctune run --export` of a finished run (ARGS="--run-dir runs/<id>") to a folder and to
# an S3-compatible server on loopback, and `uctune registry pull` back: files, MB, seconds.
bench-export: $(STAMP)
	$(BIN)/python benchmarks/bench_export.py $(ARGS)

clean:
	rm -rf $(VENV) $(PEERS) runs .pytest_cache .mypy_cache .ruff_cache
