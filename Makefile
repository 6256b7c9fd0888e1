# lemlist_fdw: PostgreSQL foreign data wrapper for lemlist campaign statistics
#
# Build and install with PGXS:  make && make install   (PG_CONFIG=... to pick a server)

MODULE_big = lemlist_fdw
OBJS = \
	src/handler.o \
	src/option.o \
	src/resources.o \
	src/pushdown.o \
	src/filter_values.o \
	src/request_sets.o \
	src/literals.o \
	src/scan.o \
	src/list_order.o \
	src/async.o \
	src/http.o \
	src/pacing.o \
	src/memo.o \
	src/shared_answers.o \
	src/network_text.o \
	src/json.o \
	src/jsonread.o \
	src/join.o

EXTENSION = lemlist_fdw
DATA = lemlist_fdw--1.0.sql lemlist_fdw--1.0--1.1.sql lemlist_fdw--1.1--1.2.sql
PGFILEDESC = "lemlist_fdw - foreign data wrapper for lemlist campaign statistics"

REGRESS = setup options import scan pushdown fanout filters joins bi errors cancel shared teams security examples matview history cron faults tls curl secrets encoding upgrade perf
REGRESS_OPTS = --inputdir=.

SHLIB_LINK = -lcurl -ljansson
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
ifdef WERROR
PG_CFLAGS += -Werror
endif

EXTRA_CLEAN = results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the suites, for test/run.sh (which skips those a server cannot run)
print-regress:
	@echo $(REGRESS)
.PHONY: print-regress

# every file includes the shared header (PGXS tracks no header dependencies
# unless the server was configured with --enable-depend)
$(OBJS): src/lemlist_fdw.h src/compat.h
