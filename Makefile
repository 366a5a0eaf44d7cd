# libartifactprov — plain GNU make.
# Targets: all check exports check-valgrind check-tsan install uninstall demo bench fuzz clean
# Honours PREFIX LIBDIR INCLUDEDIR BINDIR MANDIR DESTDIR CC CFLAGS LDFLAGS SANITIZE.

VERSION_H := include/artifactprov/version.h
MAJOR := $(shell sed -n 's/^\#define AP_VERSION_MAJOR \([0-9]*\).*/\1/p' $(VERSION_H))
MINOR := $(shell sed -n 's/^\#define AP_VERSION_MINOR \([0-9]*\).*/\1/p' $(VERSION_H))
PATCH := $(shell sed -n 's/^\#define AP_VERSION_PATCH \([0-9]*\).*/\1/p' $(VERSION_H))
VERSION := $(MAJOR).$(MINOR).$(PATCH)

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
VENDORDIR  ?= $(LIBDIR)/artifactprov/vendors
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
# The installed tools' runpath (see the tool rules below).
TOOL_RPATH ?= $$ORIGIN/$(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))

CC      ?= cc
CFLAGS  ?= -O2 -g
PKG_CONFIG ?= pkg-config
DEPS    := libcurl jansson yajl libsodium libcrypto
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS))
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(DEPS)) -ldl -lpthread -lm

# AP_DIGEST=sodium switches the SHA-256 backend to libsodium.
AP_DIGEST ?= libcrypto

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter
ifdef SANITIZE
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ALL_CFLAGS := $(WARN) $(CFLAGS) $(SANFLAGS) -D_GNU_SOURCE -Iinclude
LIB_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden $(DEP_CFLAGS) \
              -DAP_VENDORDIR='"$(VENDORDIR)"' \
              $(if $(filter sodium,$(AP_DIGEST)),-DAP_DIGEST_SODIUM=1)
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

B := build
PUB_HDRS := include/artifactprov.h $(wildcard include/artifactprov/*.h include/artifactprov/sys/*.h)
# Objects depend on a stamp named after the flags, so a build with other
# flags (SANITIZE=..., AP_DIGEST=...) rebuilds everything instead of mixing.
FLAGS_ID := $(shell echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(AP_DIGEST) $(PREFIX) $(LIBDIR) $(BINDIR) $(TOOL_RPATH)' | cksum | cut -d' ' -f1)
STAMP := $(B)/.flags-$(FLAGS_ID)
LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(patsubst lib/%.c,$(B)/lib/%.o,$(LIB_SRCS))
SONAME   := libartifactprov.so.$(MAJOR)
SHLIB    := $(B)/libartifactprov.so.$(VERSION)
STLIB    := $(B)/libartifactprov.a

# vendors/common/ is not a vendor: code the in-tree vendors share, compiled
# into each of them (docs/vendor-abi.md).
VENDOR_NAMES := $(notdir $(patsubst %/,%,$(dir $(wildcard vendors/*/*.c))))
VENDOR_NAMES := $(filter-out common,$(sort $(VENDOR_NAMES)))
VENDOR_COMMON := $(wildcard vendors/common/*.c vendors/common/*.h)
VENDOR_SOS := $(patsubst %,$(B)/vendors/ap-vendor-%.so,$(VENDOR_NAMES))
VENDOR_LIBS := $(shell $(PKG_CONFIG) --libs jansson)

# Programs installed into BINDIR, one directory each under tools/ (every .c
# file there is linked into the program; TOOL_CFLAGS_<name>/TOOL_LIBS_<name>
# add what one program alone needs).  embed is built (and tested) but, being
# sample code, not installed.
TOOLS := apctl apd
# What the tools share (tools/common/), linked into each.
TOOLS_COMMON := $(wildcard tools/common/*.c tools/common/*.h)
PROGRAMS := $(patsubst %,$(B)/%,$(TOOLS))
# What `make install` installs: the same programs with the install runpath.
INST_PROGRAMS := $(patsubst %,$(B)/inst/%,$(TOOLS))
EXAMPLES := $(PROGRAMS) $(if $(wildcard examples/embed.c),$(B)/embed)
TOOL_CFLAGS_apctl := -DAP_VENDORDIR='"$(VENDORDIR)"'
TOOL_LIBS_apctl :=
TOOL_CFLAGS_apd := $(shell $(PKG_CONFIG) --cflags libmicrohttpd)
TOOL_LIBS_apd := $(shell $(PKG_CONFIG) --libs libmicrohttpd)
# Manual pages of the installed programs (man(7) roff): man/<prog>.<section>.
MAN1 := man/apctl.1
MAN8 := man/apd.8

UNIT_SRCS := $(sort $(wildcard t/unit/*.c))
UNIT_BINS := $(patsubst t/unit/%.c,$(B)/t/unit/%,$(UNIT_SRCS))
TEST_VENDOR_SRCS := $(sort $(wildcard t/vendors/*.c))
TEST_VENDOR_SOS := $(patsubst t/vendors/%.c,$(B)/t/vendors/ap-vendor-%.so,$(TEST_VENDOR_SRCS))
HELPER_SRCS := $(sort $(wildcard t/helpers/*.c))
HELPER_BINS := $(patsubst t/helpers/%.c,$(B)/t/helpers/%,$(HELPER_SRCS))
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

.PHONY: all check check-scale check-valgrind check-tsan tsan-bins install uninstall demo bench fuzz clean tests exports
all: $(SHLIB) $(B)/libartifactprov.so $(STLIB) $(VENDOR_SOS) $(EXAMPLES) $(INST_PROGRAMS) $(B)/artifactprov.pc

$(STAMP):
	@mkdir -p $(B)
	@rm -f $(B)/.flags-*
	@touch $@

$(B)/lib/%.o: lib/%.c lib/*.h $(PUB_HDRS) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(SHLIB): $(LIB_OBJS) lib/libartifactprov.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libartifactprov.map \
	  -Wl,--no-undefined -o $@ $(LIB_OBJS) $(ALL_LDFLAGS) $(DEP_LIBS)

$(B)/$(SONAME): $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $@
$(B)/libartifactprov.so: $(B)/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

# Vendors link jansson only: the host table gives them everything else.
# Each is its directory's .c files plus vendors/common/*.c (the linker keeps
# what the vendor uses: -Wl,--gc-sections with per-function sections).
.SECONDEXPANSION:
$(B)/vendors/ap-vendor-%.so: $$(wildcard vendors/$$*/*.c vendors/$$*/*.h) $(VENDOR_COMMON) $(PUB_HDRS) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections \
	  $(shell $(PKG_CONFIG) --cflags jansson) -shared -Wl,--gc-sections \
	  -o $@ $(filter %.c,$^) $(ALL_LDFLAGS) $(VENDOR_LIBS)
	@chmod go-w $@ $(dir $@) # the loader refuses group/other-writable plugins

# The tools link the shared library, so the soname chain is what users run
# (NEEDED libartifactprov.so.$(MAJOR)).  Their objects are compiled once and
# linked twice: $(B)/<tool> finds the library beside it ($$ORIGIN, then the
# build directory by absolute path, for copies made by tests and bench/), and
# $(B)/inst/<tool>, the one `make install` installs, finds it through
# TOOL_RPATH: LIBDIR relative to BINDIR ($$ORIGIN/../lib), so an installed
# tree runs wherever it is put (DESTDIR too); TOOL_RPATH= for none (a LIBDIR
# the dynamic loader searches anyway).
comma := ,
TOOL_INST_RPATH = $(if $(TOOL_RPATH),'-Wl$(comma)-rpath$(comma)$(TOOL_RPATH)')
TOOL_LINK_LIB := $(B)/$(SONAME) $(B)/libartifactprov.so
define tool_rule
TOOL_OBJS_$(1) := $(patsubst %.c,$(B)/%.o,$(wildcard tools/$(1)/*.c)) \
                  $(patsubst %.c,$(B)/%.o,$(filter %.c,$(TOOLS_COMMON)))
$(B)/tools/$(1)/%.o: tools/$(1)/%.c $(wildcard tools/$(1)/*.h) $(filter %.h,$(TOOLS_COMMON)) $(PUB_HDRS) $(STAMP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $$(DEP_CFLAGS) $$(TOOL_CFLAGS_$(1)) -Itools/$(1) -Itools/common -c $$< -o $$@
$(B)/$(1): $$(TOOL_OBJS_$(1)) $(TOOL_LINK_LIB)
	$$(CC) -o $$@ $$(TOOL_OBJS_$(1)) -L$(B) -lartifactprov \
	  '-Wl,-rpath,$$$$ORIGIN:$(abspath $(B))' $$(ALL_LDFLAGS) $$(TOOL_LIBS_$(1)) $$(DEP_LIBS)
$(B)/inst/$(1): $$(TOOL_OBJS_$(1)) $(TOOL_LINK_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$(TOOL_OBJS_$(1)) -L$(B) -lartifactprov \
	  $$(TOOL_INST_RPATH) $$(ALL_LDFLAGS) $$(TOOL_LIBS_$(1)) $$(DEP_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))
$(B)/tools/common/%.o: tools/common/%.c $(filter %.h,$(TOOLS_COMMON)) $(PUB_HDRS) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEP_CFLAGS) -Itools/common -c $< -o $@

# Example programs link the static archive: self-contained binaries.
$(B)/%: examples/%.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEP_CFLAGS) -o $@ $< $(STLIB) $(ALL_LDFLAGS) $(DEP_LIBS)

$(B)/artifactprov.pc: pkgconfig/artifactprov.pc.in $(VERSION_H) Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VENDORDIR@|$(VENDORDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

# ---- tests -----------------------------------------------------------------
$(B)/t/unit/%: t/unit/%.c $(STLIB) $(wildcard t/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(DEP_CFLAGS) $(CMOCKA_CFLAGS) -Ilib -o $@ $< \
	  $(STLIB) $(ALL_LDFLAGS) $(CMOCKA_LIBS) $(DEP_LIBS)

$(B)/t/vendors/ap-vendor-%.so: t/vendors/%.c include/artifactprov/vendor.h $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $< $(ALL_LDFLAGS)
	@chmod go-w $@ $(dir $@)

$(B)/t/helpers/%: t/helpers/%.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(DEP_CFLAGS) -Ilib -o $@ $< $(STLIB) $(ALL_LDFLAGS) $(DEP_LIBS)

# ---- fault build (test only, docs/TESTING.md) --------------------------------
# A second static archive compiled with -DAP_FAULT_INJECTION=1 (lib/fault.h:
# APX_FAULT kill points, failing allocations) and an apctl linked to it.  The
# normal library has no fault code at all.  It uses the normal vendors.
FB := $(B)/fault
FAULT_OBJS  := $(patsubst lib/%.c,$(FB)/lib/%.o,$(LIB_SRCS))
FAULT_STLIB := $(FB)/libartifactprov.a
$(FB)/lib/%.o: lib/%.c lib/*.h $(PUB_HDRS) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -DAP_FAULT_INJECTION=1 -c $< -o $@

$(FAULT_STLIB): $(FAULT_OBJS)
	rm -f $@
	ar rcs $@ $(FAULT_OBJS)

$(FB)/apctl: $(wildcard tools/apctl/*.c tools/apctl/*.h) $(TOOLS_COMMON) $(FAULT_STLIB)
	$(CC) $(ALL_CFLAGS) $(DEP_CFLAGS) $(TOOL_CFLAGS_apctl) -Itools/apctl -Itools/common -o $@ \
	  $(filter %.c,$^) $(FAULT_STLIB) $(ALL_LDFLAGS) $(TOOL_LIBS_apctl) $(DEP_LIBS)

# The allocation-failure loop needs the hook: it links the fault archive.
$(B)/t/unit/test_alloc_fail: t/unit/test_alloc_fail.c $(FAULT_STLIB) $(wildcard t/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(DEP_CFLAGS) $(CMOCKA_CFLAGS) -Ilib \
	  -DAP_FAULT_INJECTION=1 -o $@ $< $(FAULT_STLIB) $(ALL_LDFLAGS) $(CMOCKA_LIBS) $(DEP_LIBS)

tests: all $(UNIT_BINS) $(TEST_VENDOR_SOS) $(HELPER_BINS) $(FB)/apctl

PROVE ?= prove
PROVE_FLAGS ?= -j2 --timer
# Every test runs through t/run-test: a test still running after
# AP_TEST_TIMEOUT seconds (default 900) is killed and named, and what a test
# leaves running is terminated, so a hang fails the run instead of holding it.
RUN_TEST := sh $(CURDIR)/t/run-test
# The directory of the python3 interpreter itself, found once (a version
# manager's shim costs ~0.7 s CPU a call; t/lib.sh, t/run-test).
AP_PYTHON_DIR = $(shell python3 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null)
# The most expensive files first (t/slow-first, measured), so that with -j2
# no long test starts last while the other job slot sits idle.
CHECK_ALL := $(UNIT_BINS) $(sort $(wildcard t/integration/*.t))
SLOW_FIRST := $(foreach f,$(filter-out \#%,$(shell grep -v '^\#' t/slow-first 2>/dev/null)),$(filter %$(f),$(CHECK_ALL)))
CHECK_FILES := $(SLOW_FIRST) $(filter-out $(SLOW_FIRST),$(CHECK_ALL))
check: tests
	AP_BUILD=$(CURDIR)/$(B) AP_SRC=$(CURDIR) CC="$(CC)" SANITIZE="$(SANITIZE)" AP_DIGEST=$(AP_DIGEST) \
	  AP_PYTHON_DIR="$(AP_PYTHON_DIR)" $(PROVE) $(PROVE_FLAGS) --exec '$(RUN_TEST)' $(CHECK_FILES)

# The 100,000-file snapshot (t/scale/): minutes, so not in `make check`;
# .ci/run runs it once, unsanitized, after `make check`.
check-scale: tests
	AP_BUILD=$(CURDIR)/$(B) AP_SRC=$(CURDIR) CC="$(CC)" AP_DIGEST=$(AP_DIGEST) \
	  AP_PYTHON_DIR="$(AP_PYTHON_DIR)" AP_TEST_TIMEOUT=$${AP_TEST_TIMEOUT:-3600} $(PROVE) --timer --exec '$(RUN_TEST)' $(sort $(wildcard t/scale/*.t))

check-valgrind: tests
	AP_BUILD=$(CURDIR)/$(B) AP_SRC=$(CURDIR) AP_DIGEST=$(AP_DIGEST) AP_PYTHON_DIR="$(AP_PYTHON_DIR)" \
	  $(PROVE) $(PROVE_FLAGS) --exec '$(RUN_TEST) valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite' $(UNIT_BINS)

# ThreadSanitizer over the threaded code: its own build dir (flags differ),
# the three tests that run threads against each other, and the vendors the
# jobs test loads.
TSAN_B := $(B)/tsan
TSAN_TESTS := test_cancel test_jobs test_engine test_engine_hostile
tsan-bins: $(VENDOR_SOS) $(patsubst %,$(B)/t/unit/%,$(TSAN_TESTS))
check-tsan:
	$(MAKE) B=$(TSAN_B) SANITIZE=thread tsan-bins
	AP_BUILD=$(CURDIR)/$(TSAN_B) AP_SRC=$(CURDIR) AP_PYTHON_DIR="$(AP_PYTHON_DIR)" \
	  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 $(TSAN_OPTIONS)" \
	  $(PROVE) $(PROVE_FLAGS) --exec '$(RUN_TEST)' $(patsubst %,$(TSAN_B)/t/unit/%,$(TSAN_TESTS))

# ---- exported symbols ----------------------------------------------------------
# lib/exports.txt is the committed list of exported symbols and their version
# nodes; t/integration/exports.t (part of `make check`) fails with a diff when
# the built library differs.  After a deliberate change (a new symbol listed
# in a new node of lib/libartifactprov.map), regenerate it and commit both.
exports: $(SHLIB)
	sh lib/exports.sh $(SHLIB) > lib/exports.txt
	@echo "lib/exports.txt: $$(wc -l < lib/exports.txt) symbols; review with git diff"

# ---- install ----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/artifactprov/sys \
	  $(DESTDIR)$(BINDIR) $(DESTDIR)$(VENDORDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libartifactprov.so
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/artifactprov.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 include/artifactprov/*.h $(DESTDIR)$(INCLUDEDIR)/artifactprov/
	install -m 0644 include/artifactprov/sys/*.h $(DESTDIR)$(INCLUDEDIR)/artifactprov/sys/
	install -m 0755 $(VENDOR_SOS) $(DESTDIR)$(VENDORDIR)/
	install -m 0755 $(INST_PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(B)/artifactprov.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -d $(DESTDIR)$(MANDIR)/man1 $(if $(MAN8),$(DESTDIR)$(MANDIR)/man8)
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(if $(MAN8),install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libartifactprov.so* $(DESTDIR)$(LIBDIR)/libartifactprov.a
	rm -f $(DESTDIR)$(INCLUDEDIR)/artifactprov.h
	rm -rf $(DESTDIR)$(INCLUDEDIR)/artifactprov
	rm -f $(patsubst %,$(DESTDIR)$(VENDORDIR)/%,$(notdir $(VENDOR_SOS)))
	-rmdir $(DESTDIR)$(VENDORDIR) $(DESTDIR)$(LIBDIR)/artifactprov 2>/dev/null
	rm -f $(patsubst %,$(DESTDIR)$(BINDIR)/%,$(notdir $(PROGRAMS)))
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/artifactprov.pc
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(MAN1))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MAN8))

demo: all
	sh examples/demo.sh

bench: all
	sh bench/run.sh

fuzz:
	$(MAKE) -C fuzz

clean:
	rm -rf $(B)
