# TinyML Lab Kit. From a fresh clone: `make demo` or `make test` (each sets up .venv first).
SHELL := /bin/bash
PYTHON ?= python3
# `make lab`: the whole course (modules/, labs/, data cards, book/reading_offline.ipynb), opening at module 00
LAB_ARGS = --ServerApp.default_url=/lab/tree/modules/00_welcome_and_setup.ipynb
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tinymlkit-installed
# 2 pytest workers: the course machines (and CI) have 2 cores.
PYTEST_WORKERS ?= 2

LABS := $(notdir $(wildcard solutions/lab*))

# make grade LAB=lab01 [FROM=path/to/submissions.zip] [WORKERS=2] [REGRADE=1] [UNSANDBOXED=1]
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

# Translations (i18n/, tinymlkit/locale/): es, pt_BR, fr. LANG is read only when given on the command
# line (`make book LANG=es`), never from the shell's locale variable of the same name.
I18N_LANGS := es pt_BR fr
ifeq ($(origin LANG),command line)
COURSE_LANG := $(subst -,_,$(LANG))
ifeq ($(COURSE_LANG),pt)
COURSE_LANG := pt_BR
endif
else
COURSE_LANG := en
endif
# `make lab LANG=es`: the translated course (build/i18n/es/), opening at its module 00, with the
# package's messages and JupyterLab's menus in that language.
ifneq ($(COURSE_LANG),en)
LAB_TREE := build/i18n/$(COURSE_LANG)
LAB_ARGS = --ServerApp.default_url=/lab/tree/$(LAB_TREE)/modules/00_welcome_and_setup.ipynb
LAB_ENV := TINYMLKIT_LANG=$(COURSE_LANG)
endif

.PHONY: help setup system-deps server-deps server demo kws vision anomaly test test-i18n bench lab formgrader lock release grade book book-all i18n i18n-update clean

help:
	@echo "make demo   - set up .venv if missing, run the motion pipeline (build/demo/)"
	@echo "make kws    - keyword spotting on the shipped synthetic + real voices, leave-one-speaker-out (build/kws/)"
	@echo "make vision - images: Fashion-MNIST CNN to int8 in TFLM and C files, TFLM person detection (build/vision/)"
	@echo "make anomaly - anomaly detection: motion K-means + autoencoder, ECG excerpt, int8 in TFLM, C files (build/anomaly/)"
	@echo "make test   - set up .venv if missing, run every test and notebook"
	@echo "make lab    - open the course in JupyterLab (LANG=es|pt_BR|fr: the course in that language)"
	@echo "make test-i18n - the translations: catalogues complete, translated labs graded like English, translated solutions run"
	@echo "make bench  - time and measure the pipelines (wall time, peak RAM, report figures)"
	@echo "make release - instructors: regenerate the student labs/ from solutions/ with nbgrader"
	@echo "make grade LAB=lab01 [FROM=subs.zip] - graders: autograde a class offline (grading/README.md)"
	@echo "make formgrader - graders: JupyterLab with nbgrader's instructor tools and the formgrader"
	@echo "make server CLASS=class.csv - instructors: the workshop server, JupyterHub + nbgrader exchange (as root)"
	@echo "make book   - the course as an offline HTML book in build/book/html (BOOK_EXECUTE=off: no execution;"
	@echo "              LANG=es|pt_BR|fr: build/book/html/<lang>/; make book-all: every language)"
	@echo "make i18n-update - translators: merge changed English text into the catalogues (i18n/, tinymlkit/locale/)"
	@echo "make lock   - maintainers: re-resolve pyproject ranges into constraints.txt + environment.yml"

setup: system-deps $(STAMP)

$(STAMP): pyproject.toml constraints.txt | system-deps
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' || \
	  { echo "TinyML Lab Kit needs Python 3.11-3.13 (its pinned numpy, scipy and IPython need 3.11+);" \
	         "'$(PYTHON)' is $$($(PYTHON) --version 2>&1). Ubuntu 22.04 has 3.10: install python3.11 and" \
	         "python3.11-venv (sudo add-apt-repository ppa:deadsnakes/ppa), or use conda with" \
	         "environment.yml; then run: make PYTHON=python3.11 ..."; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "Environment ready in $(VENV)/"

system-deps:
	@bash scripts/system_deps.sh

demo: setup
	$(BIN)/tinymlkit demo

kws: setup
	$(BIN)/tinymlkit kws

vision: setup
	$(BIN)/tinymlkit vision

anomaly: setup
	$(BIN)/tinymlkit anomaly

test: setup server-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --nbval-lax --durations=25

# The translations in depth (README "Translations"): every translated solution executed under nbval,
# plus tests/test_i18n.py. make test runs test_i18n.py's fast checks; this adds the executions.
test-i18n: setup
	$(BIN)/python -c "from tinymlkit import translations as t; [t.release_labs(l, release_dir=t.ROOT / 'build' / \
	  'i18n' / 'release-check' / l) for l in t.LANGUAGES]"
	TINYMLKIT_TEST_I18N=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup tests/test_i18n.py tests/test_i18n_labs.py tests/test_i18n_book.py
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --nbval-lax \
	  $(foreach l,$(I18N_LANGS),build/i18n/nbgrader/$(l)/solutions)

i18n-update: setup
	$(BIN)/tinymlkit translations update

i18n: setup
	$(BIN)/tinymlkit translations build $(if $(filter-out en,$(COURSE_LANG)),$(COURSE_LANG),$(I18N_LANGS))

# bench_server.py: a class of simulated students on a real hub (root only; it says so otherwise)
BENCH_STUDENTS ?= 20
bench: setup server-deps
	$(BIN)/python benchmarks/bench_demo.py
	$(BIN)/python benchmarks/bench_vision.py
	$(BIN)/python benchmarks/bench_grading.py
	$(BIN)/python benchmarks/bench_capture.py
	$(BIN)/python benchmarks/bench_kws.py
	$(BIN)/python benchmarks/bench_anomaly.py
	$(BIN)/python benchmarks/bench_i18n.py
	$(BIN)/python benchmarks/bench_server.py --students $(BENCH_STUDENTS)

# The workshop server (book/instructor_guide/workshop_server.md): sudo make server CLASS=class.csv
# [SERVER_DIR=/srv/tinymlkit] [SERVER_ARGS="--port 8443 --memory-gb 3 --cpus 1"]
SERVER_DIR ?= /srv/tinymlkit
PROXY := grading/hub-proxy/node_modules/.bin/configurable-http-proxy
server-deps: $(PROXY)

$(PROXY): grading/hub-proxy/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix grading/hub-proxy --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is missing: the workshop server needs Node.js >= 18 and npm (Debian/Ubuntu: sudo apt-get install" \
	  "nodejs npm) for configurable-http-proxy; its tests are skipped"; fi

server: setup server-deps
	@[ -n "$(CLASS)" ] || [ -f "$(SERVER_DIR)/server.json" ] || { echo "usage: sudo make server CLASS=class.csv (a CSV with columns name,role)"; exit 2; }
	$(if $(CLASS),$(BIN)/python grading/server.py setup --class "$(CLASS)" --dir "$(SERVER_DIR)" $(SERVER_ARGS) &&) \
	$(BIN)/python grading/server.py start --dir "$(SERVER_DIR)"

# Which nbgrader extensions each role gets: grading/jupyter-config/<role>/ (grading/jupyter_lab.py).
lab: setup
	$(if $(LAB_TREE),$(BIN)/tinymlkit translations build $(COURSE_LANG))
	$(LAB_ENV) $(BIN)/python grading/jupyter_lab.py student $(LAB_ARGS)

formgrader: setup
	$(BIN)/python grading/jupyter_lab.py instructor

release: setup
	cd grading && ../$(BIN)/nbgrader generate_assignment "*" --force --no-db --log-level=WARN
	@for lab in $(LABS); do echo "labs/$$lab/$$lab.ipynb regenerated from solutions/$$lab/"; done
	$(BIN)/tinymlkit translations release

grade: setup
	@[ -n "$(LAB)" ] || { echo "usage: make grade LAB=lab01 [FROM=submissions.zip] [WORKERS=$(WORKERS)]"; exit 2; }
	$(BIN)/python grading/grade.py $(LAB) --workers $(WORKERS) $(if $(FROM),--from "$(FROM)") \
	  $(if $(filter 1,$(UNSANDBOXED)),--unsandboxed) $(if $(filter 1,$(REGRADE)),--regrade)

# make book [BOOK_EXECUTE=cache|off|force]: executes the modules once (jupyter-cache), see book/README.md
BOOK_EXECUTE ?= cache
book: setup
ifeq ($(COURSE_LANG),en)
	BOOK_EXECUTE=$(BOOK_EXECUTE) $(BIN)/python -m sphinx -b html -q -c book . build/book/html
	@echo "The book: build/book/html/index.html"
else
	$(BIN)/tinymlkit translations build $(COURSE_LANG)
	BOOK_LANG=$(COURSE_LANG) BOOK_EXECUTE=$(BOOK_EXECUTE) $(BIN)/python -m sphinx -b html -q -c book \
	  build/i18n/$(COURSE_LANG) build/book/html/$(COURSE_LANG)
	@echo "The book ($(COURSE_LANG)): build/book/html/$(COURSE_LANG)/book/index.html"
endif

book-all: setup
	$(MAKE) book
	$(foreach l,$(I18N_LANGS),$(MAKE) book LANG=$(l) &&) true

lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	build/lock-venv/bin/python -m pip freeze --exclude-editable > build/lock-freeze.txt
	$(PYTHON) scripts/update_lock.py build/lock-freeze.txt

# make bundle [BUNDLE=path]: the STUDENT bundle for USB sticks: wheelhouse + datasets + book + the course
#   without solutions/, scanned for answers (scripts/make_bundle.py)
# make bundle INSTRUCTOR=1 [BUNDLE=path]: the instructor's, solutions/ included (default build/bundle-instructor);
#   it stays with the instructor, never on students' sticks
# make install-offline BUNDLE=path: .venv from the bundle only, no index (scripts/install_offline.py)
BUNDLE ?= $(if $(filter 1,$(INSTRUCTOR)),build/bundle-instructor,build/bundle)
.PHONY: bundle install-offline
bundle: setup
	$(BIN)/python scripts/make_bundle.py --out "$(BUNDLE)" $(if $(filter 1,$(INSTRUCTOR)),--instructor)

install-offline:
	$(PYTHON) scripts/install_offline.py --bundle "$(BUNDLE)" --venv $(VENV) --editable .
	@touch $(STAMP)

clean:
	rm -rf build/ .pytest_cache
