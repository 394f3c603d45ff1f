# cltrack: the everyday commands, as plain make targets around waf (the way
# Samba's standalone talloc/tdb/tevent do it).  On a fresh Debian machine,
# as root, "make test" or "make demo" installs everything they need first.
#
#   make            bootstrap, configure once, build; bin/ links the tools
#   make test       build, then run every test; ends with "N passed, N failed"
#   make demo       build, then run selftest/demo.sh
#   make bench      build, then cltrack side by side with nfsdcld,
#                   nfsdcltrack and ctdb ptrans (selftest/bench/bench.sh,
#                   ~10 min; BENCH_QUICK=1 for a short run); writes
#                   build/bench/ and docs/PERFORMANCE.md.  Not in make test
#   make test-kernel build, then boot Debian's kernel in QEMU and run the
#                   real nfsd and NFS client against cltrackd
#                   (selftest/kernel/test_kernel.sh; make test runs it too)
#   make install    install (honours DESTDIR and ./configure --prefix=...;
#                   the layout is in docs/install.md)
#   make uninstall  remove what make install installed (keeps an edited
#                   /etc/cltrack/cltrack.conf)
#   make model-check  spin model check of the cluster grace protocol
#                   (selftest/model/; CLTRACK_MODEL_FULL=1 for the long one)
#   make clean      remove the build output
#   make distclean  also forget the configuration
#
# Test knobs (environment): CLTRACK_TEST_FILTER=substring[,substring...],
# CLTRACK_TEST_TIMEOUT=seconds, CLTRACK_TEST_VERBOSE=1,
# CLTRACK_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full".

WAF = buildtools/waf
CONFIGURED = build/c4che/_cache.py

.PHONY: all bootstrap bench test test-asan test-valgrind test-kernel fuzz demo \
	demo-single model-check install uninstall clean distclean

all: bootstrap
	@test -f $(CONFIGURED) || $(WAF) configure
	@$(WAF) build

# Cheap when nothing is missing: a dpkg-query per package, no apt work.
bootstrap:
	@sh buildtools/bootstrap.sh

test: all
	@$(WAF) test

# ASan+UBSan build of everything in build-asan/, then the whole suite on it
ASAN_WAF = WAFLOCK=.lock-waf-asan $(WAF)
test-asan: bootstrap
	@test -f build-asan/c4che/_cache.py || \
	  $(ASAN_WAF) configure -o build-asan --sanitize
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(ASAN_WAF) test

# Every C test program, and every cltrackd that a scenario test starts,
# under valgrind memcheck: any error or definite leak fails the test
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
test-valgrind: all
	@CLTRACK_TEST_WRAPPER="$(VALGRIND)" CLTRACK_DAEMON_WRAPPER="$(VALGRIND)" \
	  CLTRACK_TEST_TIMEOUT=900 $(WAF) test

# libFuzzer: every decoder of outside input, FUZZ_SECONDS each (default 60)
fuzz: all
	@bash selftest/fuzz/fuzz.sh build
	@bash selftest/fuzz/fuzz.sh replay
	@bash selftest/fuzz/fuzz.sh run $${FUZZ_SECONDS:-60}

test-kernel: all
	@CLTRACK_SRCDIR="$(CURDIR)" CLTRACK_BUILDDIR="$(CURDIR)/build" \
	  bash selftest/kernel/test_kernel.sh

demo: all
	@CLTRACK_SRCDIR="$(CURDIR)" CLTRACK_BUILDDIR="$(CURDIR)/build" \
	  CLTRACK_BIN="$(CURDIR)/bin" bash selftest/demo.sh

# cltrackd replacing nfsdcld on one host, with the kernel emulator only
demo-single: all
	@CLTRACK_BIN="$(CURDIR)/bin" bash selftest/demo-single.sh

bench: all
	@CLTRACK_BUILDDIR="$(CURDIR)/build" CLTRACK_BIN="$(CURDIR)/bin" \
	  bash selftest/bench/bench.sh

model-check: bootstrap
	@CLTRACK_SRCDIR="$(CURDIR)" bash selftest/model/test_model.sh

install: all
	@$(WAF) install $(if $(DESTDIR),--destdir="$(DESTDIR)")

uninstall:
	@test -f $(CONFIGURED) || { echo "not configured: nothing to uninstall" >&2; exit 1; }
	@$(WAF) uninstall $(if $(DESTDIR),--destdir="$(DESTDIR)")

clean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) clean; fi
	rm -rf bin build/test-logs

distclean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) distclean; fi
	rm -rf bin build build-asan .lock-waf* .waf*
