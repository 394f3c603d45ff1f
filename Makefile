# cltrack: the everyday commands, as plain make targets around waf (the way
# Samba's standalone talloc/tdb/tevent do it).  On a fresh Debian machine,
# as root, "make test" or "make demo" installs everything they need first.
#
#   make            bootstrap, configure once, build; bin/ links the tools
#   make test       build, then run every test; ends with "N passed, N failed"
#   make demo       build, then run selftest/demo.sh
#   make model-check  spin model check of the cluster grace protocol
#                   (selftest/model/; CLTRACK_MODEL_FULL=1 for the long one)
#   make install    install (honours DESTDIR and ./configure --prefix=...)
#   make clean      remove the build output
#   make distclean  also forget the configuration
#
# Test knobs (environment): CLTRACK_TEST_FILTER=substring,
# CLTRACK_TEST_TIMEOUT=seconds, CLTRACK_TEST_VERBOSE=1,
# CLTRACK_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full".

WAF = buildtools/waf
CONFIGURED = build/c4che/_cache.py

.PHONY: all bootstrap test demo model-check install clean distclean

all: bootstrap
	@test -f $(CONFIGURED) || $(WAF) configure
	@$(WAF) build

# Cheap when nothing is missing: a dpkg-query per package, no apt work.
bootstrap:
	@sh buildtools/bootstrap.sh

test: all
	@$(WAF) test

demo: all
	@CLTRACK_SRCDIR="$(CURDIR)" CLTRACK_BUILDDIR="$(CURDIR)/build" \
	  CLTRACK_BIN="$(CURDIR)/bin" bash selftest/demo.sh

model-check: bootstrap
	@CLTRACK_SRCDIR="$(CURDIR)" bash selftest/model/test_model.sh

install: all
	@$(WAF) install $(if $(DESTDIR),--destdir="$(DESTDIR)")

clean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) clean; fi
	rm -rf bin build/test-logs

distclean:
	@if test -f $(CONFIGURED) && test -x $(WAF); then $(WAF) distclean; fi
	rm -rf bin build .lock-waf* .waf*
