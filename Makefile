# fast_count — PGXS build for a C++17 PostgreSQL extension.
EXTENSION = fast_count
MODULE_big = fast_count

# src/ is the core, src/pg/ the PostgreSQL shims and the C++ boundary,
# src/exact/ exact mode (docs/architecture.md).
SRC_DIRS = src src/pg src/exact
SRCS = $(sort $(foreach dir,$(SRC_DIRS),$(wildcard $(dir)/*.cpp)))
OBJS = $(SRCS:.cpp=.o)
DATA = $(wildcard sql/fast_count--*.sql)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# pg_regress suites (sql/NAME.sql, expected/NAME.out), in this order, on a
# temporary instance.
REGRESS = install counting keys bad_input caching registry security worker hot_path exact_mode
REGRESS += security_entries
REGRESS += security_worker
REGRESS += security_settings
REGRESS += upgrade
REGRESS_OPTS = --temp-instance=tmp_check_regress --temp-config=test/regress.conf \
	--inputdir=. --outputdir=results_regress

# Isolation specs (test/isolation/specs/NAME.spec, test/isolation/expected/NAME.out).
ISOLATION = single_flight miss_waits registry_races stale_while_revalidate exact_concurrency \
	exact_fold exact_backfill
ISOLATION += open_reader
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

# `make dist`: a clean source tarball of the committed tree (git archive),
# named after the version in the control file, which META.json must match.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" fast_count.control)
DISTNAME = $(EXTENSION)-$(EXTVERSION)

.PHONY: dist
dist:
	@grep -q '"version": "$(EXTVERSION)"' META.json || \
		{ echo "META.json does not say version $(EXTVERSION)" >&2; exit 1; }
	@mkdir -p dist
	git archive --format=tar.gz --prefix=$(DISTNAME)/ -o dist/$(DISTNAME).tar.gz HEAD
	@echo "dist/$(DISTNAME).tar.gz"
