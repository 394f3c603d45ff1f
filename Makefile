# cltrack: the everyday commands, as plain make targets around waf (the way
# Samba's standalone talloc/tdb/tevent do it).  On a fresh Debian machine,
# as root, "make test" or "make demo" installs everything they need first.
#
#   make            bootstrap, configure once, build; bin/ links the tools
#   make test       build, then run every test; ends with "N passed, N failed"
#   make demo       build, then run selftest/demo.sh
#   make test-kernel build, then boot Debian's kernel in QEMU and run the
#                   real nfsd and NFS client against cltrackd
#                   (selftest/kernel/test_kernel.sh; make test runs it too)
#   make install    install (honours DESTDIR and ./configure --prefix=...)
#   make clean      remove the build output
#   make distclean  also forget the configuration
#
# Test knobs (environment): CLTRACK_TEST_FILTER=substring,
# CLTRACK_TEST_TIMEOUT=seconds, CLTRACK_TEST_VERBOSE=1,
# CLTRACK_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full".

WAF = buildtools/waf
CONFIGURED = build/c4che/_cache.py

.PHONY: all bootstrap test test-kernel demo install clean distclean

all: bootstrap
	@test -f $(CONFIGURED) || $(WAF) configure
	@$(WAF) build

# Cheap when nothing is missing: a dpkg-query per package, no apt work.
bootstrap:
	@sh buildtools/bootstrap.sh

test: all
	@$(WAF) test

test-kernel: all
	@CLTRACK_SRCDIR="$(CURDIR)" CLTRACK_BUILDDIR="$(CURDIR)/build" \
	  bash selftest/kernel/test_kernel.sh

demo: all
	@CLTRACK_SRCDIR="$(CURDIR)" CLTRACK_BUILDDIR="$(CURDIR)/build" \
	  CLTRACK_BIN="$(CURDIR)/bin" bash selftest/demo.sh

install: all
	@$(WAF) install $(if $(DESTDIR),--destdir="$(DESTDIR)")

clean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) clean; fi
	rm -rf bin build/test-logs

distclean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) distclean; fi
	rm -rf bin build .lock-waf* .waf*
