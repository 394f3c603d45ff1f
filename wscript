#!/usr/bin/env python3
# cltrack build (waf 2.0, run through buildtools/waf).
#
#   buildtools/waf configure [--sanitize]   checks the compiler and libraries
#   buildtools/waf build                    builds everything that exists
#   buildtools/waf test                     builds, then runs every test
#   buildtools/waf install [--destdir=D]     installs (docs/install.md)
#
# Sources are found by globbing, so the build follows the tree: a new
# helper/*.c joins the daemon's objects, a new selftest/unit/test_*.c
# becomes a test program.  Every top-level function here is a waf
# command, so helpers start with "_".
#
# Test programs that define __wrap_NAME() are linked with
# -Wl,--wrap=NAME.  --wrap only affects calls from other objects, which is
# why the code under test is linked as objects, never through the .so.

import os
import re
import shlex
import signal
import subprocess
import sys
import time

from waflib import Build, Configure, Context, Logs, Options, Utils

APPNAME = 'cltrack'
VERSION = '0.1.0'
top = '.'
out = 'build'
# libcltrack's version: the .so's vnum and the Version of cltrack.pc.
LIBCLTRACK_VNUM = '0.2.0'

# Install like a Debian package: prefix /usr (the PREFIX environment
# variable, as in plain waf, or --prefix overrides it), with the
# configuration in /etc and the state in /var whatever the prefix, because
# the programs look for /etc/cltrack/cltrack.conf, /var/lib/cltrack and
# /run/cltrack whatever the prefix (use --sysconfdir/--localstatedir to
# stage elsewhere).  See _install_dirs() and docs/install.md.
default_prefix = os.environ.get('PREFIX') or '/usr'

# Re-run configure, with the options it was given, when a wscript changes.
Configure.autoconfig = 'clobber'

WARN_CFLAGS = ['-Wall', '-Wextra', '-Werror=implicit-function-declaration',
	       '-Wno-unused-parameter', '-g', '-O2', '-D_GNU_SOURCE']
SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-omit-frame-pointer']

PKG_CONFIG_DEPS = [
	('talloc', 'TALLOC', 'libtalloc-dev'),
	('tevent', 'TEVENT', 'libtevent-dev'),
	('tdb', 'TDB', 'libtdb-dev'),
	('cmocka', 'CMOCKA', 'libcmocka-dev'),
	('sqlite3', 'SQLITE3', 'libsqlite3-dev'),
	('jansson', 'JANSSON', 'libjansson-dev'),
	('popt', 'POPT', 'libpopt-dev'),
]

# Every C target may use any of these; -Wl,--as-needed drops the unused.
LIBS = ['TALLOC', 'TEVENT', 'TDB', 'SQLITE3', 'JANSSON', 'POPT', 'INIPARSER']
INCLUDES = ['helper', 'include']

# Wire and disk format code that the daemon, the client library and the
# knfsd emulator share: each file is compiled once, as its own objects, so
# that no program links it twice.
SHARED_OBJECTS = [
	('cltrack_cld_msg', 'helper/cld_msg.c'),	# kernel cld upcalls
	('cltrack_record', 'helper/record.c'),	# records in cltrack.tdb
	('cltrack_proto', 'plugin/proto.c'),	# control socket
]
# The shared objects that libcltrack needs besides plugin/*.c.
CLIENT_SHARED = ['cltrack_record', 'cltrack_proto']
HELPER_MAINS = ['helper/cltrackd.c', 'helper/cltrack.c']
PLUGIN_MAIN = 'plugin/nfsdcltrack.c'
EMU_MAIN = 'selftest/knfsd-emu/main.c'

BIN_LINKS = [
	('cltrackd', 'helper/cltrackd'),
	('cltrack', 'helper/cltrack'),
	('knfsd-emu', 'selftest/knfsd-emu/knfsd-emu'),
	('nfsdcltrack', 'plugin/nfsdcltrack'),
]

SUMMARY_RE = re.compile(r'^(\d+) passed, (\d+) failed\s*$')
CMOCKA_PASSED_RE = re.compile(r'^\[  PASSED  \] (\d+) test\(s\)\.', re.M)
CMOCKA_FAILED_RE = re.compile(r'^\[  FAILED  \] (\d+) test\(s\)', re.M)
CMOCKA_OK_RE = re.compile(r'^\[       OK \] ', re.M)
CMOCKA_FAIL_CASE_RE = re.compile(r'^\[  FAILED  \] (?!\d+ test\(s\))\S', re.M)
WRAP_RE = re.compile(r'\b__wrap_([A-Za-z_]\w*)\s*\(')

FAILURE_LOG_LINES = 200


def options(opt):
	opt.load('compiler_c gnu_dirs')
	grp = opt.add_option_group('cltrack options')
	grp.add_option('--sanitize', action='store_true', default=False,
		       help='build with AddressSanitizer and UBSan')
	dirs = opt.add_option_group('cltrack installation directories')
	dirs.add_option('--systemdsystemunitdir', default='',
			dest='SYSTEMDSYSTEMUNITDIR',
			help='systemd system units [systemd.pc\'s '
			     'systemdsystemunitdir with prefix /usr, else '
			     'PREFIX/lib/systemd/system]')
	dirs.add_option('--ctdb-datadir', default='', dest='CTDB_DATADIR',
			help='CTDB\'s data directory, where "ctdb event script '
			     'enable" finds event scripts [/usr/share/ctdb with '
			     'prefix /usr, else DATADIR/ctdb]')


def _multiarch(conf):
	"""Debian's multiarch triplet (x86_64-linux-gnu), or ''."""
	for cmd in (['dpkg-architecture', '-qDEB_HOST_MULTIARCH'],
		    conf.env.CC + ['-print-multiarch']):
		try:
			out = conf.cmd_and_log(cmd, quiet=Context.BOTH).strip()
		except Exception:
			continue
		if out:
			return out
	return ''


def _install_dirs(conf):
	"""Debian's layout on top of gnu_dirs: LIBDIR lib/<triplet> (never
	gnu_dirs' lib64), SYSCONFDIR /etc, LOCALSTATEDIR /var, plus the
	systemd unit and CTDB directories.  Every one can be overridden on the
	./configure command line."""
	def opt(name):
		# a configure re-run by autoconfig has the options of the last
		# one, which may predate an option
		return getattr(Options.options, name, '') or ''
	env = conf.env
	usr = os.path.normpath(env.PREFIX) == '/usr'
	if not opt('SYSCONFDIR'):
		env.SYSCONFDIR = '/etc'
	if not opt('LOCALSTATEDIR'):
		env.LOCALSTATEDIR = '/var'
	env.MULTIARCH = _multiarch(conf)
	if not opt('LIBDIR'):
		env.LIBDIR = os.path.join(env.EXEC_PREFIX, 'lib', env.MULTIARCH
					  ).rstrip('/')
	unitdir = opt('SYSTEMDSYSTEMUNITDIR')
	if not unitdir and usr:
		try:
			unitdir = conf.cmd_and_log(
				[conf.env.PKGCONFIG[0] if conf.env.PKGCONFIG
				 else 'pkg-config',
				 '--variable=systemdsystemunitdir', 'systemd'],
				quiet=Context.BOTH).strip()
		except Exception:
			unitdir = ''
		# bookworm's nfs-kernel-server ships its units there too
		unitdir = unitdir or '/lib/systemd/system'
	env.SYSTEMDSYSTEMUNITDIR = unitdir or Utils.subst_vars(
		'${PREFIX}/lib/systemd/system', env)
	env.CTDB_DATADIR = opt('CTDB_DATADIR') or (
		'/usr/share/ctdb' if usr else
		Utils.subst_vars('${DATADIR}/ctdb', env))
	for var in ('PREFIX', 'BINDIR', 'SBINDIR', 'LIBEXECDIR', 'LIBDIR',
		    'INCLUDEDIR', 'MANDIR', 'DOCDIR', 'SYSCONFDIR',
		    'LOCALSTATEDIR', 'SYSTEMDSYSTEMUNITDIR', 'CTDB_DATADIR'):
		conf.msg('Install %s' % var.lower(), env[var])


def configure(conf):
	conf.load('compiler_c gnu_dirs')
	conf.env.append_value('CFLAGS', WARN_CFLAGS)
	conf.env.append_value('LINKFLAGS', ['-Wl,--as-needed'])

	for pkg, store, deb in PKG_CONFIG_DEPS:
		conf.check_cfg(package=pkg, uselib_store=store,
			       args=['--cflags', '--libs'], mandatory=True,
			       errmsg='not found (apt-get install %s, or run '
				      'buildtools/bootstrap.sh)' % deb)
	# bookworm's libiniparser-dev has no .pc file.
	conf.check_cc(lib='iniparser', header_name='iniparser.h',
		      includes=['/usr/include/iniparser'],
		      uselib_store='INIPARSER', mandatory=True,
		      msg='Checking for iniparser',
		      errmsg='not found (apt-get install libiniparser-dev, or '
			     'run buildtools/bootstrap.sh)')

	conf.env.SANITIZE = bool(conf.options.sanitize)
	if conf.env.SANITIZE:
		conf.check_cc(cflags=SANITIZE_FLAGS, linkflags=SANITIZE_FLAGS,
			      msg='Checking for -fsanitize=address,undefined')
		conf.env.append_value('CFLAGS', SANITIZE_FLAGS)
		conf.env.append_value('LINKFLAGS', SANITIZE_FLAGS)

	_install_dirs(conf)


def _sources(bld, pattern, exclude=()):
	"""Existing source nodes matching an ant pattern, in a stable order."""
	nodes = bld.path.ant_glob(pattern, excl=list(exclude))
	return sorted(nodes, key=lambda n: n.path_from(bld.path))


def _source(bld, path):
	"""The source node for path, or None while it does not exist yet."""
	return bld.path.find_node(path)


def _objects(bld, name, sources, use, includes=INCLUDES):
	"""Declare an objects task generator; return its name, or None if empty."""
	if not sources:
		return None
	bld(features='c', source=sources, target=name, name=name,
	    includes=includes, use=use)
	return name


def _wrap_flags(node):
	"""-Wl,--wrap=NAME for every __wrap_NAME() a test source mentions."""
	names = sorted(set(WRAP_RE.findall(node.read())))
	return ['-Wl,--wrap=%s' % name for name in names]


def _present(*names):
	return [name for name in names if name]


def build(bld):
	shared = {}
	for name, path in SHARED_OBJECTS:
		node = _source(bld, path)
		shared[name] = _objects(bld, name, [node] if node else [],
					['TALLOC'])
	cld_msg = _present(shared['cltrack_cld_msg'])
	client_wire = _present(*[shared[name] for name in CLIENT_SHARED])

	# The daemon's code: everything but the two main()s and the shared
	# objects.
	core = _objects(bld, 'cltrack_core',
			_sources(bld, 'helper/**/*.c',
				 HELPER_MAINS + [p for _, p in SHARED_OBJECTS]),
			_present(*shared.values()) + LIBS)

	# libcltrack: linked into programs as objects, shipped as a .so.
	client_sources = _sources(bld, 'plugin/*.c',
				  [PLUGIN_MAIN, 'plugin/proto.c'])
	client = _objects(bld, 'cltrack_client', client_sources,
			  client_wire + LIBS)
	if client_sources:
		paths = dict(SHARED_OBJECTS)
		lib_sources = client_sources + [_source(bld, paths[name])
						for name in client_wire]
		# An undefined symbol in the .so must fail here, not when loaded
		# (the sanitizer runtimes leave symbols undefined on purpose).
		lib_linkflags = [] if bld.env.SANITIZE else ['-Wl,-z,defs']
		# Export the public API only (plugin/libcltrack.map)
		lib_map = _source(bld, 'plugin/libcltrack.map')
		if lib_map:
			lib_linkflags.append('-Wl,--version-script=%s' %
					     lib_map.abspath())
		bld(features='c cshlib', source=lib_sources, target='plugin/cltrack',
		    name='libcltrack', vnum=LIBCLTRACK_VNUM, includes=INCLUDES,
		    use=LIBS, linkflags=lib_linkflags, install_path='${LIBDIR}')

	core_use = _present(core) + LIBS
	if _source(bld, 'helper/cltrackd.c'):
		bld.program(source='helper/cltrackd.c', target='helper/cltrackd',
			    includes=INCLUDES, use=core_use,
			    install_path='${SBINDIR}')
	if _source(bld, 'helper/cltrack.c'):
		bld.program(source='helper/cltrack.c', target='helper/cltrack',
			    includes=INCLUDES, use=_present(client) + core_use,
			    install_path='${BINDIR}')
	if _source(bld, PLUGIN_MAIN):
		bld.program(source=PLUGIN_MAIN, target='plugin/nfsdcltrack',
			    includes=INCLUDES,
			    use=_present(client) + client_wire + LIBS,
			    install_path='${LIBEXECDIR}/cltrack')

	emu_includes = INCLUDES + ['selftest/knfsd-emu']
	emu = _objects(bld, 'knfsd_emu',
		       _sources(bld, 'selftest/knfsd-emu/*.c', [EMU_MAIN]),
		       cld_msg + LIBS, emu_includes)
	if _source(bld, EMU_MAIN):
		bld.program(source=EMU_MAIN,
			    target='selftest/knfsd-emu/knfsd-emu',
			    includes=emu_includes, use=_present(emu) + cld_msg + LIBS,
			    install_path=None)

	# Tests link after everything else (build.md).
	bld.add_group()
	bld.cltrack_test_programs = []
	_test_programs(bld, 'unit', INCLUDES + ['selftest/unit', 'selftest'],
		       _present(core, client))
	_test_programs(bld, 'scenario',
		       emu_includes + ['selftest/scenario', 'selftest'],
		       _present(emu, core, client))
	_test_programs(bld, 'reliability',
		       emu_includes + ['selftest/reliability', 'selftest'],
		       _present(emu, core, client))
	# Drivers for the CTDB integration tests: run by
	# selftest/ctdb/test_*.sh against a real cluster, never directly.
	for node in _sources(bld, 'selftest/ctdb/*.c'):
		bld.program(source=[node],
			    target='selftest/ctdb/%s' % node.name[:-len('.c')],
			    includes=INCLUDES + ['selftest/ctdb'],
			    use=_present(core) + LIBS, install_path=None)

	# Benchmark drivers, run by selftest/bench/bench.sh (make bench),
	# never by make test.  cldshim.c is built by bench.sh, not here.
	for node in _sources(bld, 'selftest/bench/*_bench.c'):
		bld.program(source=[node],
			    target='selftest/bench/%s' % node.name[:-len('.c')],
			    includes=emu_includes,
			    use=_present(emu) + cld_msg + LIBS, install_path=None)

	_install_data(bld)

	if bld.cmd in ('build', 'test'):
		bld.add_post_fun(_link_bin)
	if bld.cmd == 'test':
		bld.add_post_fun(_run_tests)


def _test_programs(bld, kind, includes, use):
	"""One program per selftest/<kind>/test_*.c.

	Other .c files in that folder are shared test helpers, linked into
	each of its programs.
	"""
	folder = 'selftest/%s' % kind
	helpers = _objects(bld, 'selftest_%s_helpers' % kind,
			   _sources(bld, folder + '/*.c', [folder + '/test_*.c']),
			   use + LIBS + ['CMOCKA'], includes)
	for node in _sources(bld, folder + '/test_*.c'):
		name = node.name[:-len('.c')]
		target = '%s/%s' % (folder, name)
		bld.program(source=[node], target=target, includes=includes,
			    use=_present(helpers) + use + LIBS + ['CMOCKA'],
			    linkflags=_wrap_flags(node), install_path=None)
		bld.cltrack_test_programs.append(('%s/%s' % (kind, name), target))


# Documents for admins, installed into DOCDIR when they exist.
USER_DOCS = ['README.md', 'docs/install.md', 'docs/admin-guide.md',
	     'docs/ctdb-mode.md', 'docs/migration.md', 'docs/kernel-compat.md',
	     'docs/events.md']
CONFIG_EXAMPLE = 'docs/cltrack.conf.example'
EVENT_SCRIPT = 'events.d/legacy/59.cltrack.script'
EVENT_OPTIONS = 'events.d/legacy/59.cltrack.options'
SYSTEMD_UNIT = 'systemd/cltrackd.service'


def _install_data(bld):
	"""Everything but the programs and the library (docs/install.md has
	the table)."""
	for section in ('1', '5', '7', '8'):
		pages = _sources(bld, 'docs/*.%s' % section)
		if pages:
			bld.install_files('${MANDIR}/man%s' % section, pages)
	headers = _sources(bld, 'include/cltrack/*.h')
	if headers:
		bld.install_files('${INCLUDEDIR}/cltrack', headers)

	pc_in = _source(bld, 'plugin/cltrack.pc.in')
	if pc_in and _source(bld, 'plugin/client.c'):
		bld(source=pc_in, install_path='${LIBDIR}/pkgconfig',
		    LIBCLTRACK_VERSION=LIBCLTRACK_VNUM)

	# CTDB's datadir: "ctdb event script enable legacy 59.cltrack"
	# links /etc/ctdb/events/legacy/59.cltrack.script to it.
	script = _source(bld, EVENT_SCRIPT)
	if script:
		bld.install_files('${CTDB_DATADIR}/events/legacy', [script],
				  chmod=Utils.O755)

	examples = _present(_source(bld, EVENT_OPTIONS),
			    _source(bld, CONFIG_EXAMPLE))
	if examples:
		bld.install_files('${DOCDIR}/examples', examples)
	docs = _present(*[_source(bld, path) for path in USER_DOCS])
	if docs:
		bld.install_files('${DOCDIR}', docs)

	example = _source(bld, CONFIG_EXAMPLE)
	if example and bld.is_install:
		bld.install_as('${SYSCONFDIR}/cltrack/' + _config_name(bld, example),
			       example)

	unit = _source(bld, SYSTEMD_UNIT)
	if unit:
		# The unit names /usr/sbin/cltrackd: follow --prefix/--sbindir.
		bld(rule=_subst_unit, source=unit, target=SYSTEMD_UNIT,
		    vars=['SBINDIR'], install_path='${SYSTEMDSYSTEMUNITDIR}')

	if bld.is_install > 0:
		bld.add_post_fun(_install_state_dir)


def _subst_unit(tsk):
	text = tsk.inputs[0].read()
	tsk.outputs[0].write(text.replace('/usr/sbin/cltrackd',
					  tsk.env.SBINDIR + '/cltrackd'))


def _destdir_path(path):
	"""path under --destdir, if one was given."""
	destdir = getattr(Options.options, 'destdir', '')
	if destdir:
		return os.path.join(destdir, path.lstrip('/'))
	return path


def _config_name(bld, example):
	"""cltrack.conf, unless an installed cltrack.conf differs from the
	example: an admin's configuration is never overwritten (or removed by
	"waf uninstall"); the new example goes next to it as
	cltrack.conf.example instead."""
	conf = _destdir_path(os.path.join(
		Utils.subst_vars('${SYSCONFDIR}', bld.env), 'cltrack',
		'cltrack.conf'))
	try:
		with open(conf, 'rb') as f:
			same = f.read() == example.read('rb')
	except OSError:
		return 'cltrack.conf'
	if same:
		return 'cltrack.conf'
	if bld.is_install > 0:
		Logs.warn('Keeping %s (it differs from the example): installing '
			  'cltrack.conf.example next to it' % conf)
	return 'cltrack.conf.example'


def _install_state_dir(bld):
	"""LOCALSTATEDIR/lib/cltrack, mode 0700 (cltrackd's storage dir)."""
	path = _destdir_path(os.path.join(
		Utils.subst_vars('${LOCALSTATEDIR}', bld.env), 'lib', 'cltrack'))
	if not os.path.isdir(path):
		Logs.info('+ install %s (directory, 0700)' % path)
		os.makedirs(path, 0o700)
	os.chmod(path, 0o700)


def _link_bin(bld):
	"""<out>/bin/<tool> -> the programs that exist, and bin/ likewise for
	the default build directory (a sanitizer build in build-asan/ keeps
	its own links, which its tests use)."""
	src = bld.srcnode.abspath()
	out = bld.bldnode.abspath()
	bindirs = [os.path.join(out, 'bin')]
	if os.path.realpath(out) == os.path.realpath(os.path.join(src, 'build')):
		bindirs.append(os.path.join(src, 'bin'))
	for bindir in bindirs:
		rel_out = os.path.relpath(out, bindir)
		for link, target in BIN_LINKS:
			path = os.path.join(bindir, link)
			if os.path.islink(path):
				os.unlink(path)
			if not os.path.isfile(os.path.join(out, target)):
				continue
			os.makedirs(bindir, exist_ok=True)
			os.symlink(os.path.join(rel_out, target), path)


class TestContext(Build.BuildContext):
	'''builds, then runs the unit, scenario and script tests'''
	cmd = 'test'
	fun = 'build'


class _Result(object):
	def __init__(self, name, log):
		self.name = name
		self.log = log
		self.passed = 0
		self.failed = 0
		self.status = ''
		self.seconds = 0.0


def _test_scripts(src):
	"""selftest/scenario/*.sh, then selftest/*/test_*.sh, each once."""
	import glob
	paths = sorted(glob.glob(os.path.join(src, 'selftest/scenario/*.sh')))
	for path in sorted(glob.glob(os.path.join(src, 'selftest/*/test_*.sh'))):
		if path not in paths:
			paths.append(path)
	return paths


def _group_alive(pgid):
	"""Live (not zombie) processes of process group pgid: [(pid, name)]."""
	alive = []
	for entry in os.listdir('/proc'):
		if not entry.isdigit():
			continue
		try:
			with open('/proc/%s/stat' % entry) as f:
				stat = f.read()
		except OSError:
			continue
		name = stat[stat.find('(') + 1:stat.rfind(')')]
		fields = stat[stat.rfind(')') + 2:].split()
		if len(fields) > 2 and fields[0] != 'Z' and int(fields[2]) == pgid:
			alive.append((int(entry), name))
	return alive


def _kill_group(pgid, sig):
	"""Signal what is left of the group; report the live processes (a
	zombie waiting for init to reap it is not a leftover)."""
	alive = _group_alive(pgid)
	if not alive:
		return []
	try:
		os.killpg(pgid, sig)
	except (ProcessLookupError, PermissionError):
		return []
	return alive


def _run(argv, env, cwd, log_path, timeout):
	"""Run argv in its own process group; return (exit status, timed out,
	stray processes it left behind)."""
	with open(log_path, 'wb') as log:
		proc = subprocess.Popen(argv, cwd=cwd, env=env,
					stdin=subprocess.DEVNULL, stdout=log,
					stderr=subprocess.STDOUT,
					start_new_session=True)
		timed_out = False
		try:
			rc = proc.wait(timeout=timeout)
		except KeyboardInterrupt:
			# The test runs in its own session: ^C does not reach it.
			_kill_group(proc.pid, signal.SIGKILL)
			proc.wait()
			raise
		except subprocess.TimeoutExpired:
			timed_out = True
			_kill_group(proc.pid, signal.SIGTERM)
			try:
				rc = proc.wait(timeout=10)
			except subprocess.TimeoutExpired:
				_kill_group(proc.pid, signal.SIGKILL)
				rc = proc.wait()
		# Daemons a test forgot would disturb the next test.
		stray = _kill_group(proc.pid, signal.SIGTERM)
		if stray:
			log.write(('\nleft running, killed: %s\n' % ', '.join(
				'%s[%d]' % (n, p) for p, n in stray)).encode())
			time.sleep(0.5)
			_kill_group(proc.pid, signal.SIGKILL)
	return rc, timed_out, bool(stray)


def _count_cmocka(res, text, rc):
	passed = [int(n) for n in CMOCKA_PASSED_RE.findall(text)]
	failed = [int(n) for n in CMOCKA_FAILED_RE.findall(text)]
	if passed or failed:
		res.passed = sum(passed)
		res.failed = sum(failed)
	elif CMOCKA_OK_RE.search(text) or CMOCKA_FAIL_CASE_RE.search(text):
		# Died before cmocka's summary: count the cases it reported.
		res.passed = len(CMOCKA_OK_RE.findall(text))
		res.failed = len(CMOCKA_FAIL_CASE_RE.findall(text))
	elif rc == 0:
		res.passed = 1


def _count_script(res, text, rc):
	lines = [line for line in text.splitlines() if line.strip()]
	m = SUMMARY_RE.match(lines[-1]) if lines else None
	if m:
		res.passed = int(m.group(1))
		res.failed = int(m.group(2))
	elif rc == 0:
		res.passed = 1


def _run_one(name, argv, is_cmocka, env, cwd, logdir, timeout):
	log_path = os.path.join(logdir, name + '.log')
	os.makedirs(os.path.dirname(log_path), exist_ok=True)
	res = _Result(name, log_path)
	start = time.monotonic()
	try:
		rc, timed_out, stray = _run(argv, env, cwd, log_path, timeout)
	except OSError as e:
		with open(log_path, 'w') as log:
			log.write('cannot run %s: %s\n' % (argv[0], e))
		rc, timed_out, stray = 127, False, False
	res.seconds = time.monotonic() - start
	with open(log_path, 'rb') as log:
		text = log.read().decode('utf-8', 'replace')

	if is_cmocka:
		_count_cmocka(res, text, rc)
	else:
		_count_script(res, text, rc)

	if timed_out:
		res.status = 'timed out after %ds' % timeout
	elif rc < 0:
		res.status = 'killed by signal %d' % -rc
		try:
			res.status = 'killed by %s' % signal.Signals(-rc).name
		except ValueError:
			pass
	elif rc != 0:
		res.status = 'exit %d' % rc
	if stray:
		res.status = ', '.join(_present(res.status,
						'left processes running'))
	# A crash, a timeout or a non-zero exit is a failure even when every
	# case it reported passed (e.g. valgrind's --error-exitcode).
	if (rc != 0 or timed_out) and res.failed == 0:
		res.failed = 1
	return res


def _print_log(res):
	with open(res.log, 'rb') as log:
		lines = log.read().decode('utf-8', 'replace').splitlines()
	if len(lines) > FAILURE_LOG_LINES:
		print('    ... %d lines cut, the whole output is in %s'
		      % (len(lines) - FAILURE_LOG_LINES, res.log))
		lines = lines[-FAILURE_LOG_LINES:]
	for line in lines:
		print('    | ' + line)


def _run_tests(bld):
	src = bld.srcnode.abspath()
	out_dir = bld.bldnode.abspath()
	logdir = os.path.join(out_dir, 'test-logs')
	timeout = int(os.environ.get('CLTRACK_TEST_TIMEOUT') or 300)
	name_filter = os.environ.get('CLTRACK_TEST_FILTER', '')
	wrapper = shlex.split(os.environ.get('CLTRACK_TEST_WRAPPER', ''))
	verbose = os.environ.get('CLTRACK_TEST_VERBOSE', '') not in ('', '0')

	env = dict(os.environ)
	env.update(CLTRACK_BUILDDIR=out_dir, CLTRACK_SRCDIR=src,
		   CLTRACK_BIN=os.path.join(out_dir, 'bin'),
		   CMOCKA_MESSAGE_OUTPUT='stdout')

	tests = []
	for name, target in bld.cltrack_test_programs:
		tests.append((name, wrapper + [os.path.join(out_dir, target)], True))
	for path in _test_scripts(src):
		argv = [path] if os.access(path, os.X_OK) else ['bash', path]
		tests.append((os.path.relpath(path, os.path.join(src, 'selftest')),
			      argv, False))
	# Comma-separated substrings: a test runs if its name has any of them
	filters = [f for f in name_filter.split(',') if f] or ['']
	tests = [t for t in tests if any(f in t[0] for f in filters)]

	sys.stdout.flush()
	print('Running %d test(s), logs in %s' % (len(tests),
						   os.path.relpath(logdir, src)))
	results = []
	for i, (name, argv, is_cmocka) in enumerate(tests):
		res = _run_one(name, argv, is_cmocka, env, src, logdir, timeout)
		results.append(res)
		ok = res.failed == 0
		line = '[%*d/%d] %s %-36s %3d passed, %d failed  %6.2fs' % (
			len(str(len(tests))), i + 1, len(tests),
			'PASS' if ok else 'FAIL', name, res.passed, res.failed,
			res.seconds)
		if res.status:
			line += '  (%s)' % res.status
		print(line)
		if not ok or verbose:
			_print_log(res)
		sys.stdout.flush()

	failed = [r for r in results if r.failed]
	total_passed = sum(r.passed for r in results)
	total_failed = sum(r.failed for r in results)
	if failed:
		print('')
		print('Failed:')
		for r in failed:
			print('  %-40s %d failed%s  log: %s' % (
				r.name, r.failed,
				'  (%s)' % r.status if r.status else '',
				os.path.relpath(r.log, src)))
	elif not results:
		print('No tests matched.' if name_filter else 'No tests found.')
	print('%d passed, %d failed' % (total_passed, total_failed))
	sys.stdout.flush()
	# Exit here, so that the summary stays the last line waf prints.
	sys.exit(1 if total_failed else 0)
