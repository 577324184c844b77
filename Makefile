# fast_count — PGXS build for a C++17 PostgreSQL extension.
EXTENSION = fast_count
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" fast_count.control)
MODULE_big = fast_count

# src/ is the core, src/pg/ the PostgreSQL shims and the C++ boundary,
# src/exact/ exact mode (docs/architecture.md).
SRC_DIRS = src src/pg src/exact
SRCS = $(sort $(foreach dir,$(SRC_DIRS),$(wildcard $(dir)/*.cpp)))
OBJS = $(SRCS:.cpp=.o)
# sql/fast_count.sql is the whole current schema; the script CREATE EXTENSION
# runs is built from it. The other scripts: 0.1.0 (for the upgrade test) and
# one upgrade script per release.
DATA = $(filter-out $(DATA_built),$(wildcard sql/fast_count--*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# pg_regress suites (test/sql/NAME.sql, test/expected/NAME.out), in this
# order, on a temporary instance whose database has the extension already;
# each suite also runs alone (make installcheck REGRESS=NAME).
REGRESS = install counting keys bad_input caching registry security worker hot_path exact_mode
REGRESS += security_entries
REGRESS += security_worker
REGRESS += security_settings
REGRESS += transparent
REGRESS += grouped
REGRESS += exact_shared
REGRESS += exact_bulk
REGRESS += transparent_deferred
REGRESS += upgrade
REGRESS_OPTS = --temp-instance=tmp_check_regress --temp-config=test/regress.conf \
	--inputdir=test --outputdir=results_regress --load-extension=$(EXTENSION)

# Isolation specs (test/isolation/specs/NAME.spec, test/isolation/expected/NAME.out).
ISOLATION = single_flight miss_waits registry_races stale_while_revalidate exact_concurrency \
	exact_fold exact_backfill
ISOLATION += open_reader
ISOLATION += exact_fastpath
ISOLATION += exact_fastpath_grouped
ISOLATION += grouped_concurrency
ISOLATION += exact_switch
ISOLATION_OPTS = --temp-instance=tmp_check_isolation --temp-config=test/isolation.conf \
	--inputdir=test/isolation --outputdir=results_isolation

# TAP tests (test/t/*.pl) with PostgreSQL::Test::Cluster.
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = tmp_check_regress tmp_check_isolation results_regress results_isolation \
	tmp_check $(foreach dir,$(SRC_DIRS),$(dir)/*.o $(dir)/*.d $(dir)/*.bc)

# JIT bitcode for C++ sources would need clang; the count path gains nothing from it.
override with_llvm = no

include $(PGXS)

# PostgreSQL's headers are third-party code for us: include them as system
# headers so that -Wextra speaks about our code only.
override CPPFLAGS := -isystem $(includedir_server) -Isrc $(CPPFLAGS)
override CXXFLAGS += -std=gnu++17 -Wextra -fno-omit-frame-pointer -MMD -MP
SHLIB_LINK += -lstdc++

-include $(OBJS:.o=.d)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# `make dist`: a clean source tarball of the committed tree (git archive),
# named after the version in the control file, which META.json must match.
DISTNAME = $(EXTENSION)-$(EXTVERSION)

.PHONY: dist
dist:
	@grep -q '"version": "$(EXTVERSION)"' META.json || \
		{ echo "META.json does not say version $(EXTVERSION)" >&2; exit 1; }
	@mkdir -p dist
	git archive --format=tar.gz --prefix=$(DISTNAME)/ -o dist/$(DISTNAME).tar.gz HEAD
	@echo "dist/$(DISTNAME).tar.gz"
