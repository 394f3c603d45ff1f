"""Helpers for the plug-in tests: a cltrackd on a temporary socket, the
drop-in and the real nfsdcltrack run the way the kernel runs them, and a
pass/fail tally whose last line the test runner reads.

Everything a test starts is stopped by PID and every temporary directory
is removed, also when the test fails or is killed (SIGTERM).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get('CLTRACK_SRCDIR') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.environ.get('CLTRACK_BIN') or os.path.join(SRC, 'bin')
REAL_NFSDCLTRACK = os.environ.get('NFSDCLTRACK_REAL', '/sbin/nfsdcltrack')


class Tally(object):
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=''):
        if ok:
            self.passed += 1
            print('ok   %s' % what)
        else:
            self.failed += 1
            print('FAIL %s%s' % (what, ('\n     ' + detail) if detail
                                  else ''))
        sys.stdout.flush()
        return ok

    def summary(self):
        print('%d passed, %d failed' % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


class TestEnv(object):
    """A temporary directory that goes away, with every daemon in it."""

    def __init__(self, prefix='cltrack-plugin-'):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
        self.daemons = []
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame):
        raise SystemExit(128 + signum)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def close(self):
        for d in self.daemons:
            d.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Cltrackd(object):
    def __init__(self, env, name='cltrackd'):
        self.env = env
        self.name = name
        self.socket = env.path(name + '.sock')
        self.storage = env.path(name + '-store')
        self.pipefs = env.path(name + '-pipefs')
        self.log = env.path(name + '.log')
        self.proc = None
        env.daemons.append(self)

    def start(self):
        os.makedirs(self.storage, exist_ok=True)
        os.makedirs(self.pipefs, exist_ok=True)
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, 'cltrackd'), '-F', '-d', 'NOTICE',
                 '-c', '/dev/null', '--pipefs-dir', self.pipefs,
                 '--storage-dir', self.storage,
                 '--control-socket', self.socket],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('cltrackd exited: %s' % self.log_text())
            r = subprocess.run([os.path.join(BIN, 'cltrack'), '-s',
                                self.socket, 'status'],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError('cltrackd did not come up: %s' % self.log_text())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    def cltrack(self, *args):
        return subprocess.run([os.path.join(BIN, 'cltrack'), '-s',
                               self.socket] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)

    def records(self):
        """{id_hex: record} from cltrack --json list."""
        r = self.cltrack('--json', 'list')
        if r.returncode != 0:
            raise RuntimeError('cltrack list failed: %s' % r.stderr)
        return {e['id_hex']: e for e in json.loads(r.stdout)}


def can_unshare_mounts():
    """Can we give one exec a private /run and /proc/fs/nfsd?"""
    if not os.path.isdir('/proc/fs/nfsd'):
        return False
    r = subprocess.run(['unshare', '-m', 'sh', '-c',
                        'mount -t tmpfs tmpfs /run && '
                        'mount --bind /tmp /proc/fs/nfsd'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


# Runs "$@" with /proc/fs/nfsd replaced by $1 and, when $2 is not "-",
# an empty /run holding only /run/cltrack/cltrackd.sock -> $2.
_NS_SCRIPT = r'''
procdir=$1; sock=$2; shift 2
mount --bind "$procdir" /proc/fs/nfsd || exit 99
if [ "$sock" != - ]; then
    mount -t tmpfs tmpfs /run || exit 99
    mkdir -p /run/cltrack && ln -s "$sock" /run/cltrack/cltrackd.sock ||
        exit 99
fi
exec "$@"
'''


def kernel_exec(argv, envvars, procdir=None, sock=None):
    """Exec argv as the kernel does: exactly these variables, nothing
    else.  With procdir, /proc/fs/nfsd is procdir for this exec only;
    with sock, the default control socket path leads to sock."""
    cmd = ['env', '-i'] + ['%s=%s' % kv for kv in envvars] + list(argv)
    if procdir is not None:
        cmd = ['unshare', '-m', 'sh', '-c', _NS_SCRIPT, 'sh', procdir,
               sock or '-'] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    return r.returncode, r.stderr
