# sluice: one build for the agent, its BPF programs, tools and tests.
#
#   make              build everything into build/ (SAN=1: into build-san/
#                     with ASan+UBSan)
#   make deps         install build and test dependencies (Debian, idempotent)
#   make check        deps, build, every test; then again under ASan+UBSan
#   make check SAN=1  only the sanitizer pass (what CI runs)
#   make demo         the data path end to end on loopback
#   make bench        both benchmarks below (they measure, never assert)
#   make bench-tcp    throughput and connect cost, direct vs through sluice
#   make bench-pg     pgbench direct, through sluice and through PgBouncer
#   make vmlinux      regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel
#   make install      install into DESTDIR (PREFIX /usr): programs, unit,
#                     catalog, man pages, docs, and the default policy
#                     unless a policy is there already
#   make deb, rpm     packages of this build in dist/ (packaging/)
#
# V=1 shows the commands.

ARCH      ?= $(shell uname -m)
BPF_ARCH  := $(patsubst x86_64,x86,$(patsubst aarch64,arm64,$(ARCH)))
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
SAN       ?= 0
VERSION   := $(shell cat VERSION)
PREFIX    ?= /usr
UNITDIR   ?= /lib/systemd/system

ifeq ($(SAN),1)
BUILD     := build-san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD     := build
SANFLAGS  :=
endif

PKGS      := libbpf libelf zlib openssl libcjson libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -DSLUICE_VERSION='"$(VERSION)"' -Wall -Wextra -Werror -MMD -MP \
	     -I$(BUILD) -Ibpf -Ipolicy -Iuserspace $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS   += $(SANFLAGS)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) \
	      -Wall -Wextra -Werror -Wno-unused-parameter -Ivmlinux/$(ARCH) -Ibpf

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all deps check demo bench bench-tcp bench-pg vmlinux clean fuzz install deb rpm

POLICY_OBJS := $(BUILD)/policy/policy.o $(BUILD)/policy/sql_names.o
SQL_OBJS    := $(BUILD)/policy/sql_classify.o $(BUILD)/policy/sql_rules.o \
	       $(BUILD)/policy/sql_normalize.o
AGENT_OBJS  := $(patsubst userspace/%.c,$(BUILD)/userspace/%.o,$(wildcard userspace/*.c))
HELPERS     := $(BUILD)/tests/sluice-testnet $(BUILD)/tests/sluice-pgq $(BUILD)/tests/sluice-mkrec
REPLAY_OBJS := $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/replay_*.c))
CTL_OBJS    := $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/ctl_*.c))
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))

all: $(BUILD)/sluiced $(BUILD)/sluice-replay $(BUILD)/sluicectl $(HELPERS) $(UNIT_TESTS)

$(BUILD)/redirect.bpf.o: bpf/redirect.bpf.c bpf/redirect.h vmlinux/$(ARCH)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp

$(BUILD)/redirect.skel.h: $(BUILD)/redirect.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name redirect_bpf > $@

$(AGENT_OBJS): $(BUILD)/redirect.skel.h

$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/sluiced: $(AGENT_OBJS) $(POLICY_OBJS) $(SQL_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lpg_query -o $@

$(BUILD)/sluice-replay: $(BUILD)/tools/sluice-replay.o $(REPLAY_OBJS) $(BUILD)/userspace/recording.o \
		$(BUILD)/userspace/text.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/sluicectl: $(BUILD)/tools/sluicectl.o $(CTL_OBJS) $(BUILD)/tools/replay_text.o \
		$(BUILD)/tools/replay_files.o $(BUILD)/tools/replay_session.o \
		$(BUILD)/userspace/recording.o $(BUILD)/userspace/text.o $(POLICY_OBJS) $(SQL_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lpg_query -o $@

$(BUILD)/tests/sluice-mkrec: $(BUILD)/tests/helpers/sluice-mkrec.o $(BUILD)/userspace/recording.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/sluice-testnet: $(BUILD)/tests/helpers/sluice-testnet.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/helpers/sluice-pgq.o: CFLAGS += $(shell pkg-config --cflags libpq 2>/dev/null)
$(BUILD)/tests/sluice-pgq: $(BUILD)/tests/helpers/sluice-pgq.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(shell pkg-config --libs libpq 2>/dev/null) -o $@

$(BUILD)/tests/test_identity: $(BUILD)/tests/unit/test_identity.o \
		$(BUILD)/userspace/identity.o $(BUILD)/userspace/cgroupfs.o $(BUILD)/userspace/ev.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/tests/test_sql_classify: $(BUILD)/tests/unit/test_sql_classify.o \
		$(BUILD)/policy/sql_classify.o $(BUILD)/policy/sql_names.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lpg_query -o $@

$(BUILD)/tests/test_policy: $(BUILD)/tests/unit/test_policy.o $(POLICY_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/test_pg_mask: $(BUILD)/tests/unit/test_pg_mask.o $(BUILD)/userspace/pg_mask.o \
		$(BUILD)/userspace/keyfile.o $(BUILD)/userspace/log.o $(POLICY_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/test_sql_normalize: $(BUILD)/tests/unit/test_sql_normalize.o \
		$(BUILD)/policy/sql_normalize.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lpg_query -o $@

$(BUILD)/tests/test_json_out: $(BUILD)/tests/unit/test_json_out.o $(BUILD)/userspace/json_out.o \
		$(BUILD)/userspace/text.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/test_recording: $(BUILD)/tests/unit/test_recording.o $(BUILD)/userspace/recording.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/test_jwt: $(BUILD)/tests/unit/test_jwt.o $(BUILD)/userspace/jwt.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/test_sql_rules: $(BUILD)/tests/unit/test_sql_rules.o $(POLICY_OBJS) $(SQL_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lpg_query -o $@

# libFuzzer targets: clang only, always with ASan+UBSan.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/*.c))
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -Ipolicy -Iuserspace -Ibpf \
		-fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
fuzz: $(FUZZ_TARGETS)

POLICY_SRCS  := policy/policy.c policy/sql_names.c
SQL_SRCS     := policy/sql_classify.c policy/sql_rules.c policy/sql_normalize.c
PG_FUZZ_SRCS := tests/fuzz/fuzz_pg.c userspace/proto_postgres.c userspace/pg_wire.c \
		userspace/pg_auth.c userspace/pg_track.c userspace/pg_cancel.c \
		userspace/pg_judge.c userspace/pg_mask.c userspace/pg_masking.c \
		userspace/pg_catalog.c userspace/keyfile.c userspace/ev.c userspace/relay.c \
		userspace/tls.c userspace/pg_audit.c userspace/audit.c userspace/json_out.c userspace/text.c \
		userspace/recorder.c userspace/recording.c userspace/approvals.c userspace/jobctl.c \
		userspace/webhook.c userspace/identity.c userspace/cgroupfs.c \
		$(POLICY_SRCS) $(SQL_SRCS)
build-fuzz/fuzz_pg: $(PG_FUZZ_SRCS) $(wildcard userspace/*.h policy/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Ibuild $(PG_FUZZ_SRCS) $(PKG_LIBS) -lpg_query -o $@

build-fuzz/fuzz_sql: tests/fuzz/fuzz_sql.c policy/sql_classify.c policy/sql_names.c policy/sql_classify.h \
		policy/sql_normalize.c policy/sql_normalize.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_sql.c policy/sql_classify.c policy/sql_names.c \
		policy/sql_normalize.c \
		$(PKG_LIBS) -lpg_query -o $@

build-fuzz/fuzz_jwt: tests/fuzz/fuzz_jwt.c userspace/jwt.c userspace/jwt.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_jwt.c userspace/jwt.c $(PKG_LIBS) -o $@

build-fuzz/fuzz_recording: tests/fuzz/fuzz_recording.c userspace/recording.c userspace/recording.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_recording.c userspace/recording.c $(PKG_LIBS) -o $@

REPLAY_FUZZ_SRCS := tests/fuzz/fuzz_replay.c tools/replay_session.c tools/replay_render.c \
		    tools/replay_export.c tools/replay_list.c tools/replay_text.c userspace/text.c
build-fuzz/fuzz_replay: $(REPLAY_FUZZ_SRCS) $(wildcard tools/replay_*.h) userspace/text.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Itools $(REPLAY_FUZZ_SRCS) $(PKG_LIBS) -o $@

build-fuzz/fuzz_policy: tests/fuzz/fuzz_policy.c $(POLICY_SRCS) policy/policy.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_policy.c $(POLICY_SRCS) $(PKG_LIBS) -o $@

deps:
	$(Q)tests/deps.sh

# The README's test command: both passes, one summary line at the end.
check: deps
	$(Q)$(MAKE) --no-print-directory all fuzz SAN=$(SAN)
ifeq ($(SAN),1)
	$(Q)tests/run.sh build-san
else
	$(Q)$(MAKE) --no-print-directory all SAN=1
	$(Q)tests/run.sh build build-san
endif

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh build

bench-tcp: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/bench-tcp.sh build

bench-pg: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/bench-pg.sh build

bench: bench-tcp bench-pg

vmlinux:
	$(Q)vmlinux/gen-vmlinux.sh $(ARCH)

MAN_PAGES := sluiced.8 sluicectl.1 sluice-replay.1

# The installed tree. Programs are stripped (the build keeps its symbols).
install: all
	$(Q)install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/lib/systemd/catalog $(DESTDIR)/etc/sluice \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/doc/sluice/docs
	$(Q)install -m 0755 -s $(BUILD)/sluiced $(DESTDIR)$(PREFIX)/sbin/sluiced
	$(Q)install -m 0755 -s $(BUILD)/sluicectl $(BUILD)/sluice-replay $(DESTDIR)$(PREFIX)/bin/
	$(Q)install -m 0644 packaging/sluice.service $(DESTDIR)$(UNITDIR)/sluice.service
	$(Q)install -m 0644 packaging/sluice.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/
	$(Q)[ -e $(DESTDIR)/etc/sluice/policy.json ] || \
		install -m 0644 packaging/policy.json $(DESTDIR)/etc/sluice/policy.json
	$(Q)for m in $(MAN_PAGES); do \
		gzip -9n < packaging/man/$$m > $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$$m.gz; \
		chmod 0644 $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$$m.gz; done
	$(Q)install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/sluice/
	$(Q)install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/sluice/docs/
	$(Q)install -m 0644 packaging/copyright $(DESTDIR)$(PREFIX)/share/doc/sluice/copyright

deb: all
	$(Q)packaging/deb/build.sh $(SAN) $(VERSION) dist

rpm: all
	$(Q)packaging/rpm/build.sh $(SAN) $(VERSION) dist

clean:
	rm -rf build build-san build-fuzz dist

-include $(shell find build build-san -name '*.d' 2>/dev/null)
