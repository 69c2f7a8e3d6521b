# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# A production-like environment for `check --deploy`: fresh secrets, DEBUG off.
DEPLOY_ENV = DEBUG=false ALLOWED_HOSTS=studio.example.com SITE_URL=https://studio.example.com \
	SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	VAULT_KEYS="$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"

.PHONY: install run test lint typecheck checks suite bench screenshots catalogs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# The compiled catalogs (.mo) are built here from locale/*/LC_MESSAGES/django.po, never committed.
COMPILED := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

install: $(STAMP) $(COMPILED)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(STAMP)
	$(BIN)/python -m config.catalogs compile $*

# `make catalogs`: every string marked in the code into each language's .po, to translate.
catalogs: install
	DJANGO_SETTINGS_MODULE=config.settings $(BIN)/python -m config.catalogs update

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
	rm -rf var/metrics && mkdir -p var/metrics
	PATH="$(CURDIR)/$(BIN):$$PATH" PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/metrics" \
		$(BIN)/honcho --procfile Procfile.dev start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy .

# The suite runs on every CPU (pytest-xdist): each worker has a database, a var/ folder and
# Redis database numbers of its own (tests/xdist_stores.py). PYTEST_WORKERS=0 runs it in one
# process; work stealing keeps both CPUs busy to the end, past the few long integration tests.
PYTEST_WORKERS ?= auto
PYTEST_DIST ?= worksteal

# `make -j4 test` (as CI does) runs the four side by side: the suite spends much of its time
# waiting on browsers and worker processes, which the checks fill.
test: lint typecheck checks suite

checks: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(DEPLOY_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

suite: install
	@# Each run gets its own var/ (SQLite test file, local broker, cache, media), so runs at
	@# the same time never take each other's job messages; each xdist worker a folder in it.
	mkdir -p var; dir=$$(mktemp -d $(CURDIR)/var/test-XXXXXX); \
		VAR_DIR=$$dir $(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) $(PYTEST_ARGS); \
		status=$$?; rm -rf $$dir; exit $$status

# `make bench ONLY=pipeline,crash` runs some sections (bench/run.py lists them; ONLY=vendor:
# engine, pipeline and crash). The figures are also written to var/bench/latest.json.
bench: install
	$(BIN)/python bench/run.py $(if $(ONLY),--only '$(ONLY)')

# `make screenshots`: the browser tests that picture README.md's user guide, then the chosen
# pictures made small into docs/screenshots/ (tests/browser/readme_screenshots.py); commit them.
SCREENSHOT_TESTS = tests/browser/test_recipes.py tests/browser/test_albums.py \
	tests/browser/test_phone_photos.py tests/browser/test_company_sign_in.py \
	tests/browser/test_email_notices.py tests/browser/test_languages.py
screenshots: install
	mkdir -p var; dir=$$(mktemp -d $(CURDIR)/var/test-XXXXXX); \
		VAR_DIR=$$dir $(BIN)/pytest -m browser -p no:randomly $(SCREENSHOT_TESTS); \
		status=$$?; rm -rf $$dir; test $$status -eq 0 || exit $$status
	$(BIN)/python -m tests.browser.readme_screenshots

clean:
	rm -rf $(VENV) var locale/*/LC_MESSAGES/*.mo .mypy_cache .ruff_cache .pytest_cache test-artifacts
