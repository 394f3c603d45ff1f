"""Differential test of the nfsdcltrack drop-in (spec §8, §14 T26-T35).

Debian's real /sbin/nfsdcltrack (own SQLite storage, -s DIR -f) and our
drop-in (against a cltrackd on a temporary socket) run the same
generated sequence of upcalls, one exec per operation with the kernel's
environment only (env -i).  Our drop-in gets exactly the kernel's argv,
{prog, cmd, arg}: its socket and /proc/fs/nfsd are put at their default
paths in a private mount namespace.  The real one gets /proc/fs/nfsd
the same way, so its v4_end_grace writes are seen too.

After every operation these must be identical:
  - the exit status;
  - what was written to v4_end_grace;
  - the set of clients: (id, has_session, time == 0), read from the
    real one's SQLite database with sqlite3 and from ours with
    cltrack --json list;
  - the legacy recovery directories left.

nfsdcltrack's rules depend on times.  The sequence runs in two phases
separated by a second boundary T: every row written in phase A has a
time < T, every row written in phase B a time >= T, so the comparisons
with T (GRACE_START, gracedone T) come out the same for both programs
although they run a few milliseconds apart.
"""
import hashlib
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import umhlib  # noqa: E402

SEED = int(os.environ.get('CLTRACK_DIFF_SEED', '10'))
RANDOM_OPS = int(os.environ.get('CLTRACK_DIFF_OPS', '60'))


class Side(object):
    """One implementation with its own storage, procfs and legacy dir."""

    def __init__(self, env, name):
        self.name = name
        self.procdir = env.path(name + '-proc')
        self.topdir = env.path(name + '-v4recovery')
        os.makedirs(self.procdir)
        os.makedirs(self.topdir)
        self.reset_end_grace()

    def reset_end_grace(self):
        with open(os.path.join(self.procdir, 'v4_end_grace'), 'w'):
            pass

    def end_grace(self):
        with open(os.path.join(self.procdir, 'v4_end_grace')) as f:
            text = f.read()
        self.reset_end_grace()
        return text

    def legacy(self):
        return sorted(os.listdir(self.topdir))


class RealSide(Side):
    def __init__(self, env):
        Side.__init__(self, env, 'real')
        self.storage = env.path('real-storage')

    def run(self, argv, envvars):
        prog = [umhlib.REAL_NFSDCLTRACK, '-f', '-s', self.storage]
        return umhlib.kernel_exec(prog + argv, envvars, self.procdir)

    def clients(self):
        db = os.path.join(self.storage, 'main.sqlite')
        if not os.path.exists(db):
            return set()
        r = subprocess.run(['sqlite3', db,
                            "SELECT lower(hex(id)), has_session, time = 0 "
                            "FROM clients"], stdout=subprocess.PIPE,
                           universal_newlines=True, check=True)
        out = set()
        for line in r.stdout.splitlines():
            idhex, sess, zero = line.split('|')
            out.add((idhex, sess == '1', zero == '1'))
        return out


class OurSide(Side):
    def __init__(self, env, daemon, ns):
        Side.__init__(self, env, 'ours')
        self.daemon = daemon
        self.ns = ns

    def run(self, argv, envvars):
        prog = os.path.join(umhlib.BIN, 'nfsdcltrack')
        if self.ns:
            # Exactly the kernel's argv: defaults lead to our daemon
            return umhlib.kernel_exec([prog] + argv, envvars, self.procdir,
                                      self.daemon.socket)
        return umhlib.kernel_exec([prog, '-s', self.daemon.socket, '-p',
                                   self.procdir] + argv, envvars)

    def clients(self):
        return set((idhex, e['session'], e['created'] == 0)
                   for idhex, e in self.daemon.records().items())


def md5hex(idhex):
    return hashlib.md5(bytes.fromhex(idhex)).hexdigest()


def gen_ids(rng):
    """Long-form ids: printable, binary, 1 byte, 1024 bytes."""
    ids = ['4c696e7578204e465376342e31206869676873656173',
           '00ff10', 'aa', 'ab' * 1024]
    for _ in range(8):
        n = rng.randint(8, 64)
        ids.append(bytes(rng.getrandbits(8) for _ in range(n)).hex())
    return ids


class Op(object):
    def __init__(self, what, argv, envvars=(), legacy_rec=None,
                 legacy_top=None):
        self.what = what
        self.argv = argv
        self.envvars = list(envvars)
        self.legacy_rec = legacy_rec    # id hex whose legacy dir to make
        self.legacy_top = legacy_top    # entries to put in the topdir


def random_op(rng, ids, T, phase):
    idhex = rng.choice(ids)
    sess = rng.choice('YN')
    kind = rng.choice(['create'] * 4 + ['check'] * 3 + ['remove'] * 2 +
                      ['legacy', 'init'])
    if kind == 'create':
        gs = T if phase == 'B' else T - 100000
        return Op('create %s sess=%s' % (idhex[:12], sess),
                  ['create', idhex],
                  [('NFSDCLTRACK_CLIENT_HAS_SESSION', sess),
                   ('NFSDCLTRACK_GRACE_START', str(gs))])
    if kind == 'check' or kind == 'legacy':
        legacy = kind == 'legacy'
        return Op('check %s sess=%s%s' % (idhex[:12], sess,
                                          ' legacy' if legacy else ''),
                  ['check', idhex],
                  [('NFSDCLTRACK_CLIENT_HAS_SESSION', sess),
                   ('NFSDCLTRACK_LEGACY_RECDIR', '@TOP@/' + md5hex(idhex))],
                  legacy_rec=idhex if legacy else None)
    if kind == 'remove':
        return Op('remove %s' % idhex[:12], ['remove', idhex])
    gs = rng.choice([T, T + 100000, 0])
    return Op('init gs=%s' % gs, ['init'],
              [('NFSDCLTRACK_GRACE_START', str(gs))])


def fixed_cases(ids, T):
    a = ids[0]
    return [
        Op('init on an empty store lifts grace', ['init'],
           [('NFSDCLTRACK_GRACE_START', str(T))]),
        Op('no command', []),
        Op('unknown command', ['frobnicate', a]),
        Op('unknown command without arg', ['bogus']),
        Op('create without argument', ['create']),
        Op('check without argument', ['check']),
        Op('remove without argument', ['remove']),
        Op('gracedone without argument', ['gracedone']),
        Op('create odd-length hex', ['create', 'abc'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y')]),
        Op('create non-hex', ['create', '4g41'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y')]),
        Op('check non-hex', ['check', 'zz'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N')]),
        Op('remove odd-length', ['remove', '123']),
        Op('create 1025 bytes', ['create', 'cd' * 1025],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N')]),
        Op('check 1025 bytes', ['check', 'cd' * 1025]),
        Op('create upper-case hex', ['create', 'DEADBEEF'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N')]),
        Op('check lower-case of it', ['check', 'deadbeef'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N')]),
        Op('create without HAS_SESSION', ['create', 'c0ffee']),
        Op('gracedone not a number', ['gracedone', '12x']),
        Op('gracedone overflow', ['gracedone', '9' * 30]),
        Op('gracedone hex 0x10', ['gracedone', '0x10']),
        Op('init without GRACE_START', ['init']),
        Op('init with bad GRACE_START', ['init'],
           [('NFSDCLTRACK_GRACE_START', 'soon')]),
        Op('remove unknown id', ['remove', '0badc0de']),
        Op('check unknown id, no legacy dir', ['check', '0badc0de'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y'),
            ('NFSDCLTRACK_LEGACY_RECDIR', '@TOP@/' + md5hex('0badc0de'))]),
        Op('extra argument ignored', ['create', 'c0ffee01', 'extra'],
           [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y')]),
    ]


def phase_b_script(ids, T):
    """Grace handling after the boundary T, then random operations."""
    ops = [Op('init gs=T (phase-A clients may reclaim)', ['init'],
              [('NFSDCLTRACK_GRACE_START', str(T))])]
    # Some clients reclaim: v4.0 by check (refreshes time), v4.1 by
    # create at RECLAIM_COMPLETE
    for idhex in ids[:3]:
        ops.append(Op('reclaim check v4.0 %s' % idhex[:12],
                      ['check', idhex],
                      [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N'),
                       ('NFSDCLTRACK_LEGACY_RECDIR',
                        '@TOP@/' + md5hex(idhex))]))
    for idhex in ids[3:6]:
        ops.append(Op('reclaim create v4.1 %s' % idhex[:12],
                      ['create', idhex],
                      [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y'),
                       ('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('gracedone T with legacy leftovers', ['gracedone', str(T)],
                  [('NFSDCLTRACK_LEGACY_TOPDIR', '@TOP@')],
                  legacy_top=['0123456789abcdef0123456789abcdef',
                              'fedcba9876543210fedcba9876543210']))
    ops.append(Op('init gs=T after gracedone', ['init'],
                  [('NFSDCLTRACK_GRACE_START', str(T))]))
    return ops


def final_script(ids, T):
    """Every client a session client created after T: the last create
    lifts grace, and so does init."""
    ops = [Op('gracedone far future purges everything',
              ['gracedone', str(T + 10 ** 6)],
              [('NFSDCLTRACK_LEGACY_TOPDIR', '@TOP@')])]
    for idhex in ids[:4]:
        ops.append(Op('create v4.1 %s lifts grace when last' % idhex[:12],
                      ['create', idhex],
                      [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y'),
                       ('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('init: nothing may reclaim -> v4_end_grace', ['init'],
                  [('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('create v4.0 blocks lifting', ['create', ids[5]],
                  [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N'),
                   ('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('create v4.1 with a v4.0 row present', ['create', ids[6]],
                  [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y'),
                   ('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('init with a v4.0 row present', ['init'],
                  [('NFSDCLTRACK_GRACE_START', str(T))]))
    ops.append(Op('gracedone 0 keeps everything', ['gracedone', '0']))
    return ops


def prepare(side, op):
    envvars = [(k, v.replace('@TOP@', side.topdir)) for k, v in op.envvars]
    if op.legacy_rec is not None:
        os.makedirs(os.path.join(side.topdir, md5hex(op.legacy_rec)),
                    exist_ok=True)
    for name in op.legacy_top or []:
        os.makedirs(os.path.join(side.topdir, name), exist_ok=True)
    return envvars


def compare(tally, n, op, real, ours):
    envr = prepare(real, op)
    envo = prepare(ours, op)
    rc_r, err_r = real.run(op.argv, envr)
    rc_o, err_o = ours.run(op.argv, envo)
    ok = True
    detail = []
    if rc_r != rc_o:
        ok = False
        detail.append('exit: real %d, ours %d (%s | %s)' % (
            rc_r, rc_o, err_r.strip()[-200:], err_o.strip()[-200:]))
    eg_r, eg_o = real.end_grace(), ours.end_grace()
    if eg_r != eg_o:
        ok = False
        detail.append('v4_end_grace: real %r, ours %r' % (eg_r, eg_o))
    cl_r, cl_o = real.clients(), ours.clients()
    if cl_r != cl_o:
        ok = False
        detail.append('clients: only real %s; only ours %s' % (
            sorted(c[0][:16] + str(c[1:]) for c in cl_r - cl_o),
            sorted(c[0][:16] + str(c[1:]) for c in cl_o - cl_r)))
    lg_r, lg_o = real.legacy(), ours.legacy()
    if lg_r != lg_o:
        ok = False
        detail.append('legacy dirs: real %s, ours %s' % (lg_r, lg_o))
    tally.check(ok, '%3d %-50s exit %d, %d clients%s' % (
        n, op.what, rc_r, len(cl_r), ', ended grace' if eg_r else ''),
        '\n     '.join(detail))
    return rc_r, cl_r, eg_r


def main():
    tally = umhlib.Tally()
    if not os.access(umhlib.REAL_NFSDCLTRACK, os.X_OK):
        tally.check(False, 'real nfsdcltrack at %s (apt-get install '
                    'nfs-kernel-server)' % umhlib.REAL_NFSDCLTRACK)
        return tally.summary()
    rng = random.Random(SEED)
    with umhlib.TestEnv('cltrack-diff-') as env:
        if not umhlib.can_unshare_mounts():
            print('note: no private mount namespace; the drop-in gets -s '
                  'and -p, the real one\'s v4_end_grace goes unseen')
            tally.check(False, 'unshare -m with bind mounts (needed to '
                        'see v4_end_grace writes)')
            return tally.summary()
        daemon = umhlib.Cltrackd(env).start()
        real = RealSide(env)
        ours = OurSide(env, daemon, True)
        ids = gen_ids(rng)
        # Phase A: T lies in the future, so every time written is < T
        T = int(time.time()) + 3600
        seen_rc = set()
        n = 0
        script = fixed_cases(ids, T)
        script += [random_op(rng, ids, T, 'A') for _ in range(RANDOM_OPS)]
        for idhex in ids[:8]:
            script.append(Op('create v4.0 %s' % idhex[:12],
                             ['create', idhex],
                             [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'N')]))
        for op in script:
            n += 1
            rc, _, _ = compare(tally, n, op, real, ours)
            seen_rc.add(rc)
        # The boundary: wait for the next second, call it T
        T = int(time.time()) + 1
        while time.time() < T:
            time.sleep(0.05)
        script = phase_b_script(ids, T)
        script += [random_op(rng, ids, T, 'B') for _ in range(RANDOM_OPS)]
        script += final_script(ids, T)
        for op in script:
            n += 1
            rc, _, _ = compare(tally, n, op, real, ours)
            seen_rc.add(rc)
        # The generated sequence must have exercised every exit status
        # of spec §8.3 that a healthy store can produce
        want = {0, 255, 234, 222, 218, 151}
        tally.check(want <= seen_rc, 'exit statuses covered: %s' %
                    sorted(seen_rc), 'missing %s' % sorted(want - seen_rc))
        if tally.failed:
            print(daemon.log_text())
    return tally.summary()


if __name__ == '__main__':
    sys.exit(main())
