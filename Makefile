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

VERSION ?= 0.1.0
PREFIX  ?= /usr/local
EXAMPLES := $(BUILD)/examples/tls_client

.PHONY: all clean test unit-test system-test install install-lib install-bin FORCE
all: $(BUILD)/libcertmon.a $(BUILD)/certmon $(BUILD)/certmond $(UNIT_BINS) \
     $(BUILD)/libcertmon.so $(BUILD)/certmon.pc $(EXAMPLES)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libcertmon.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# libcertmon is also a shared library (its objects are compiled with -fPIC;
# a stamp of the flags rebuilds them when the flags change), described by
# certmon.pc for `pkg-config --cflags --libs certmon`. `make install
# PREFIX=DIR` (and DESTDIR) installs the headers, both libraries and the .pc
# (install-lib) and the two programs (install-bin).
LIB_CFLAGS = $(CFLAGS) -fPIC
$(BUILD)/lib/%.o: CFLAGS += -fPIC
$(LIB_OBJS): $(BUILD)/lib/.cflags
$(BUILD)/lib/.cflags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(LIB_CFLAGS)' | cmp -s - $@ || echo '$(LIB_CFLAGS)' > $@

$(BUILD)/libcertmon.so: $(LIB_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libcertmon.so.0 -o $@ $^ $(LDLIBS)

$(BUILD)/certmon.pc: FORCE
	@mkdir -p $(dir $@)
	@{ echo 'prefix=$(PREFIX)'; \
	  echo 'exec_prefix=$${prefix}'; \
	  echo 'libdir=$${exec_prefix}/lib'; \
	  echo 'includedir=$${prefix}/include'; \
	  echo ''; \
	  echo 'Name: certmon'; \
	  echo 'Description: X.509 certificate monitoring, OCSP and CRL checks, a TLS revocation hook'; \
	  echo 'Version: $(VERSION)'; \
	  echo 'Requires: openssl'; \
	  echo 'Requires.private: libcurl sqlite3 jansson'; \
	  echo 'Libs: -L$${libdir} -lcertmon'; \
	  echo 'Libs.private: -lpthread'; \
	  echo 'Cflags: -I$${includedir}'; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

install-lib: $(BUILD)/libcertmon.a $(BUILD)/libcertmon.so $(BUILD)/certmon.pc
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/certmon
	install -m 0644 include/certmon/*.h $(DESTDIR)$(PREFIX)/include/certmon/
	install -m 0644 $(BUILD)/libcertmon.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/libcertmon.so $(DESTDIR)$(PREFIX)/lib/libcertmon.so.$(VERSION)
	ln -sf libcertmon.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libcertmon.so.0
	ln -sf libcertmon.so.0 $(DESTDIR)$(PREFIX)/lib/libcertmon.so
	install -m 0644 $(BUILD)/certmon.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

install-bin: $(BUILD)/certmon $(BUILD)/certmond
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/certmon $(BUILD)/certmond $(DESTDIR)$(PREFIX)/bin/

install: install-lib install-bin

# The examples (examples/README.md), linked with the static library here;
# the system tests build them again through pkg-config after install-lib.
$(BUILD)/examples/%: examples/%.c $(BUILD)/libcertmon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcertmon.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/certmon: $(CLI_OBJS) $(BUILD)/libcertmon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/certmond: $(DAEMON_OBJS) $(BUILD)/gen/web_assets.o $(BUILD)/libcertmon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libmicrohttpd)

# The web admin's static files (web/*.css, web/*.svg), embedded into certmond
# as byte arrays (od + awk: no xxd needed); served under /static/NAME.
WEB_ASSETS := $(sort $(wildcard web/*.css web/*.svg))
$(BUILD)/gen/web_assets.c: $(WEB_ASSETS) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* generated from web/ by the Makefile: do not edit */'; \
	  echo '#include <stddef.h>'; \
	  echo 'struct web_asset { const char *path; const char *type;'; \
	  echo '    const unsigned char *data; size_t len; };'; \
	  echo 'extern const struct web_asset web_assets[];'; \
	  i=0; for f in $(WEB_ASSETS); do \
	    echo "static const unsigned char a$$i[] = {"; \
	    od -An -v -tx1 "$$f" | awk '{ for (i = 1; i <= NF; i++) printf "0x%s,", $$i; print "" }'; \
	    echo '0 };'; i=$$((i + 1)); \
	  done; \
	  echo 'const struct web_asset web_assets[] = {'; \
	  i=0; for f in $(WEB_ASSETS); do \
	    case "$$f" in *.css) t='text/css; charset=utf-8';; *.svg) t='image/svg+xml';; *) t='application/octet-stream';; esac; \
	    echo "  { \"/static/$${f#web/}\", \"$$t\", a$$i, sizeof(a$$i) - 1 },"; i=$$((i + 1)); \
	  done; \
	  echo '  { NULL, NULL, NULL, 0 } };'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(CC) $(CFLAGS) -c $< -o $@

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
