# certmon - build with `make`; `make test` runs the unit tests and the
# system tests; `make SAN=1` builds into build-san/ with ASan + UBSan.

CC      ?= cc
PKGS    := openssl libcurl sqlite3 jansson
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(SANFLAGS) -Iinclude -Ilib \
           $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread

LIB_SRCS  := $(wildcard lib/*.c)
CLI_SRCS  := $(wildcard cli/*.c)
DAEMON_SRCS := $(wildcard daemon/*.c)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean test unit-test system-test
all: $(BUILD)/libcertmon.a $(BUILD)/certmon $(BUILD)/certmond $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libcertmon.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/certmon: $(CLI_OBJS) $(BUILD)/libcertmon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/certmond: $(DAEMON_OBJS) $(BUILD)/libcertmon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libmicrohttpd)

$(BUILD)/daemon/%.o: daemon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libmicrohttpd) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libcertmon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

unit-test: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

system-test: $(BUILD)/certmon $(BUILD)/certmond
	CERTMON_BIN=$(abspath $(BUILD)/certmon) CERTMOND_BIN=$(abspath $(BUILD)/certmond) \
	    /usr/bin/python3 -m pytest -q tests/system

test: unit-test system-test

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
