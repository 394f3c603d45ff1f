"""The nfsdcltrack drop-in alone: what the differential test cannot see.

- cltrackd unreachable: init exits 243 (-EACCES, the kernel falls back
  to the legacy tracker), other commands fail non-zero, and the log says
  which socket could not be reached.
- The control socket and procfs directory come from -s/-p, from
  CLTRACK_SOCKET/CLTRACK_NFSD_PROCFS, or from cltrack.conf.
- create stores the decoded bytes, not the hex (T28).
- Two concurrent creates for different ids both succeed (T36).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import umhlib  # noqa: E402

PROG = os.path.join(umhlib.BIN, 'nfsdcltrack')


def run(argv, envvars=()):
    return umhlib.kernel_exec([PROG] + argv, envvars)


def main():
    t = umhlib.Tally()
    with umhlib.TestEnv('cltrack-dropin-') as env:
        daemon = umhlib.Cltrackd(env)
        missing = env.path('no-such.sock')

        # Not running
        rc, err = run(['-f', '-s', missing, 'init'],
                      [('NFSDCLTRACK_GRACE_START', '1')])
        t.check(rc == 243, 'init without cltrackd exits 243 (got %d)' % rc)
        t.check('Cannot reach cltrackd on %s' % missing in err,
                'the log names the unreachable socket', err)
        rc, err = run(['-f', '-s', missing, 'create', '4142'],
                      [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y')])
        t.check(rc != 0, 'create without cltrackd fails (exit %d)' % rc)
        rc, _ = run(['-f', '-s', missing, 'check', '4142'])
        t.check(rc != 0, 'check without cltrackd fails (exit %d)' % rc)
        rc, _ = run(['-f', '-s', missing, 'gracedone', '5'])
        t.check(rc != 0, 'gracedone without cltrackd fails (exit %d)' % rc)
        rc, _ = run(['-f', '-s', missing, 'bogus'])
        t.check(rc == 218, 'unknown command is reported before connecting')

        daemon.start()
        procdir = env.path('proc')
        os.makedirs(procdir)
        eg = os.path.join(procdir, 'v4_end_grace')
        open(eg, 'w').close()

        # T28: decoded bytes, session flag, time >= GRACE_START
        T = int(time.time())
        rc, _ = run(['-s', daemon.socket, '-p', procdir, 'create',
                     '4C696e7578'],
                    [('NFSDCLTRACK_CLIENT_HAS_SESSION', 'Y'),
                     ('NFSDCLTRACK_GRACE_START', str(T))])
        recs = daemon.records()
        e = recs.get('4c696e7578')
        t.check(rc == 0 and e is not None and e['id'] == 'Linux' and
                e['session'] and e['created'] >= T,
                'create stores the raw id bytes, session, time >= T',
                repr(recs))
        with open(eg) as f:
            t.check(f.read() == 'Y', 'the only client reclaimed: '
                    'v4_end_grace written under -p DIR')

        # Settings from the environment and from cltrack.conf
        procdir2 = env.path('proc2')
        os.makedirs(procdir2)
        open(os.path.join(procdir2, 'v4_end_grace'), 'w').close()
        rc, _ = run(['init'], [('NFSDCLTRACK_GRACE_START', str(T)),
                               ('CLTRACK_SOCKET', daemon.socket),
                               ('CLTRACK_NFSD_PROCFS', procdir2)])
        with open(os.path.join(procdir2, 'v4_end_grace')) as f:
            t.check(rc == 0 and f.read() == 'Y',
                    'CLTRACK_SOCKET and CLTRACK_NFSD_PROCFS are used')
        conf = env.path('cltrack.conf')
        with open(conf, 'w') as f:
            f.write('[cltrackd]\n\tcontrol socket = %s\n[nfsd]\n'
                    '\tprocfs dir = %s\n' % (daemon.socket, procdir))
        open(eg, 'w').close()
        rc, err = run(['-c', conf, 'init'],
                      [('NFSDCLTRACK_GRACE_START', str(T))])
        with open(eg) as f:
            t.check(rc == 0 and f.read() == 'Y',
                    'cltrack.conf [cltrackd] control socket and [nfsd] '
                    'procfs dir are used', err)
        rc, _ = run(['-c', conf, '-s', missing, 'init'])
        t.check(rc == 243, '-s overrides cltrack.conf')
        rc, _ = run(['--storagedir', '/var/lib/nfs/nfsdcltrack', '-s',
                     daemon.socket, 'check', '4c696e7578'])
        t.check(rc == 0, '--storagedir is accepted for compatibility')
        r = subprocess.run([PROG, '--help'], stdout=subprocess.PIPE,
                           universal_newlines=True)
        t.check(r.returncode == 0 and 'gracedone' in r.stdout and
                '--socket' in r.stdout, '--help documents the commands '
                'and options')

        # T36: concurrent creates of different ids
        procs = []
        ids = ['%08x' % (0xc0c0 + i) for i in range(8)]
        for idhex in ids:
            procs.append(subprocess.Popen(
                ['env', '-i', 'NFSDCLTRACK_CLIENT_HAS_SESSION=N', PROG,
                 '-s', daemon.socket, 'create', idhex]))
        rcs = [p.wait() for p in procs]
        recs = daemon.records()
        t.check(rcs == [0] * len(ids) and all(i in recs for i in ids),
                '8 concurrent creates all exit 0 and are all stored',
                'exits %s' % rcs)

        # Latency percentiles in cltrack stats
        r = daemon.cltrack('--json', 'stats')
        st = json.loads(r.stdout) if r.returncode == 0 else {}
        t.check(st.get('op_latency_count', 0) >= len(ids) and
                0 < st.get('op_latency_p50_usec', 0) <=
                st.get('op_latency_p90_usec', 0) <=
                st.get('op_latency_p99_usec', 0),
                'cltrack stats reports operation latency percentiles',
                repr({k: v for k, v in st.items() if 'latency' in k}))

        # The daemon going away mid-life: a clear failure, not a hang
        daemon.stop()
        start = time.time()
        rc, err = run(['-f', '-s', daemon.socket, 'check', ids[0]])
        t.check(rc != 0 and time.time() - start < 5,
                'check after cltrackd stopped fails at once (exit %d)' % rc,
                err)
    return t.summary()


if __name__ == '__main__':
    sys.exit(main())
