"""cltrack import from databases written by Debian's real trackers.

- nfsdcltrack: its database is made by /sbin/nfsdcltrack itself, run
  through its usermode-helper contract (env -i, one exec per upcall).
- nfsdcld: /usr/sbin/nfsdcld is started once in a private mount
  namespace with no rpc_pipefs; before giving up on the missing pipe it
  creates its schema-4 database and runs its one-time migration, which
  copies the nfsdcltrack clients and the v4recovery entries (found
  through a fake /proc/fs/nfsd/nfsv4recoverydir) into rec-...01.  So
  that database is really nfsdcld's.  States that need upcalls (a
  recovery epoch, princhash, unpadded table names, schemas 1 and 3) are
  built with sqlite3 exactly as spec §9.3 describes.
- v4recovery: a directory with valid and invalid entries, compared with
  what nfsdcld's own migration made of the same directory.

Every import is checked against cltrack --json list; broken sources must
leave the store unchanged.
"""
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import umhlib  # noqa: E402

NFSDCLD = '/usr/sbin/nfsdcld'


def sql(db, *stmts):
    r = subprocess.run(['sqlite3', db] + list(stmts), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        raise RuntimeError('sqlite3 %s: %s' % (db, r.stderr))
    return r.stdout


def real_nfsdcltrack(storage, cmd, arg, session):
    return umhlib.kernel_exec(
        [umhlib.REAL_NFSDCLTRACK, '-f', '-s', storage, cmd, arg],
        [('NFSDCLTRACK_CLIENT_HAS_SESSION', session)])[0]


def import_(daemon, *args):
    r = daemon.cltrack('--json', 'import', *args)
    out = json.loads(r.stdout) if r.returncode == 0 else None
    return r.returncode, out, r.stderr


def ids_of(daemon):
    return {k: v for k, v in daemon.records().items()}


def run_nfsdcld(env, tracker_dir, v4rec):
    """nfsdcld's own database: schema 4 plus its one-time migration."""
    nfs = env.path('varlibnfs')
    proc = env.path('cld-proc')
    cld = env.path('nfsdcld')
    os.makedirs(os.path.join(nfs, 'nfsdcltrack'))
    os.makedirs(proc)
    os.makedirs(cld)
    os.makedirs(env.path('cld-pipefs'))
    subprocess.run(['cp', os.path.join(tracker_dir, 'main.sqlite'),
                    os.path.join(nfs, 'nfsdcltrack')], check=True)
    with open(os.path.join(proc, 'nfsv4recoverydir'), 'w') as f:
        f.write(v4rec + '\n')
    script = ('mount --bind "$1" /var/lib/nfs && '
              'mount --bind "$2" /proc/fs/nfsd && '
              'exec timeout 20 %s -F -p "$3" -s "$4"' % NFSDCLD)
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script, 'sh', nfs, proc,
                        env.path('cld-pipefs'), cld],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return os.path.join(cld, 'main.sqlite'), r.stdout


def main():
    t = umhlib.Tally()
    for prog in (umhlib.REAL_NFSDCLTRACK, NFSDCLD):
        if not os.access(prog, os.X_OK):
            t.check(False, '%s present (apt-get install nfs-kernel-server)'
                    % prog)
            return t.summary()
    with umhlib.TestEnv('cltrack-import-') as env:
        # --- nfsdcltrack database, written by nfsdcltrack ---
        tr = env.path('nfsdcltrack')
        clients = {'4142': 'Y', '00ff10': 'N', 'ab' * 1024: 'N',
                   '4c696e7578': 'Y'}
        rcs = [real_nfsdcltrack(tr, 'create', i, s)
               for i, s in clients.items()]
        # nfsdcltrack stores an empty id when asked to
        rcs.append(real_nfsdcltrack(tr, 'create', '', 'N'))
        t.check(rcs == [0] * 5, 'real nfsdcltrack built its database',
                repr(rcs))
        rows = sql(os.path.join(tr, 'main.sqlite'),
                   'SELECT count(*) FROM clients').strip()
        t.check(rows == '5', 'nfsdcltrack database has 5 rows (one empty)')

        d = umhlib.Cltrackd(env, 'd1').start()
        rc, out, err = import_(d, 'nfsdcltrack', tr, '--dry-run')
        t.check(rc == 0 and out['clients'] == 4 and
                out['skipped_empty'] == 1 and out['stored'] == 4 and
                d.records() == {}, 'dry run reports 4 clients, 1 empty id, '
                'and stores nothing', '%r %s' % (out, err))
        rc, out, err = import_(d, 'nfsdcltrack', tr)
        recs = d.records()
        want = {i: s == 'Y' for i, s in clients.items()}
        got = {i: e['session'] for i, e in recs.items()}
        t.check(rc == 0 and out['stored'] == 4 and got == want,
                'import nfsdcltrack: the 4 ids with their session flags',
                '%r %r %s' % (out, got, err))
        t.check(all(e['epoch'] == 1 and not e['legacy'] and
                    e['princhash'] is None for e in recs.values()),
                'imported records are epoch-1 creates, not legacy')
        rc, out, err = import_(d, 'nfsdcltrack',
                               os.path.join(tr, 'main.sqlite'))
        t.check(rc == 0 and out['stored'] == 0 and out['present'] == 4 and
                d.records() == recs, 'a second import changes nothing '
                '(idempotent)', repr(out))
        rc, out, _ = import_(d, 'nfsdcltrack', tr, '--dry-run')
        t.check(rc == 0 and out['stored'] == 0 and out['present'] == 4,
                'dry run sees the 4 already present')

        # --- v4recovery directory ---
        v4 = env.path('v4recovery')
        good = [hashlib.md5(b'client-%d' % i).hexdigest() for i in range(3)]
        for name in good + ['ABCDEF0123456789ABCDEF0123456789', 'junk']:
            os.makedirs(os.path.join(v4, name))
        with open(os.path.join(v4, hashlib.md5(b'f').hexdigest()), 'w'):
            pass
        os.symlink(os.path.join(v4, good[0]),
                   os.path.join(v4, hashlib.md5(b'link').hexdigest()))

        # --- nfsdcld: its own database, with its own migration ---
        cld_db, cld_log = run_nfsdcld(env, tr, v4)
        ok = os.path.exists(cld_db)
        t.check(ok, 'real nfsdcld created its database', cld_log[-500:])
        if ok:
            ver = sql(cld_db, "SELECT value FROM parameters WHERE "
                      "key='version'").strip()
            cld_ids = set(sql(cld_db, 'SELECT lower(hex(id)) FROM '
                              '"rec-0000000000000001"').split())
            cld_empty = int(sql(cld_db, 'SELECT count(*) FROM '
                                '"rec-0000000000000001" WHERE id IS NULL '
                                'OR length(id) = 0'))
            t.check(ver == '4' and len(cld_ids) >= 5,
                    'nfsdcld schema 4 with migrated records (%d)' %
                    len(cld_ids), cld_log[-500:])
            d2 = umhlib.Cltrackd(env, 'd2').start()
            rc, out, err = import_(d2, 'nfsdcld', env.path('nfsdcld'))
            ours = set(d2.records())
            # nfsdcld copied the empty id too; we skip it
            t.check(rc == 0 and ours == cld_ids and cld_empty == 1 and
                    out['skipped_empty'] == cld_empty,
                    'import nfsdcld: exactly nfsdcld\'s rec-...01 ids',
                    '%r only ours %s only nfsdcld %s' % (
                        out, ours - cld_ids, cld_ids - ours))
            # nfsdcld imports every v4recovery name; we only 32-hex dirs
            hashes = {i for i in cld_ids if bytes.fromhex(i).startswith(
                b'hash:')}
            want_v4 = {(b'hash:' + g.encode() + b'\0').hex() for g in good}
            d3 = umhlib.Cltrackd(env, 'd3').start()
            rc, out, err = import_(d3, 'v4recovery', v4)
            recs = d3.records()
            t.check(rc == 0 and set(recs) == want_v4 and
                    out['skipped_entries'] == 4,
                    'import v4recovery: the 3 32-hex directories only, '
                    '4 entries skipped', '%r %s %s' % (out, set(recs), err))
            t.check(want_v4 <= hashes and len(hashes) > len(want_v4),
                    'nfsdcld\'s migration has those 3 and also the junk '
                    'names we refuse')
            t.check(all(len(bytes.fromhex(i)) == 38 and e['legacy']
                        for i, e in recs.items()),
                    'v4recovery ids are 38 bytes, flagged legacy')

        # --- nfsdcld states built with sqlite3 as spec §9.3 says ---
        d4 = umhlib.Cltrackd(env, 'd4').start()
        s4 = env.path('s4.sqlite')
        ph = 'x\'' + '11' * 32 + '\''
        sql(s4, "CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO parameters VALUES ('version','4'),"
            "('first_time','0');"
            "CREATE TABLE grace (current INTEGER, recovery INTEGER);"
            "INSERT INTO grace VALUES (3, 2);"
            "CREATE TABLE \"rec-0000000000000002\" (id BLOB PRIMARY KEY, "
            "princhash BLOB);"
            "CREATE TABLE \"rec-0000000000000003\" (id BLOB PRIMARY KEY, "
            "princhash BLOB);"
            "INSERT INTO \"rec-0000000000000002\" VALUES "
            "(x'41', %s), (x'42', NULL), (x'43', x'0102030405'),"
            "(NULL, NULL), (x'', NULL), (randomblob(1025), NULL);"
            "INSERT INTO \"rec-0000000000000003\" VALUES (x'44', NULL);"
            % ph)
        rc, out, err = import_(d4, 'nfsdcld', s4)
        recs = d4.records()
        t.check(rc == 0 and set(recs) == {'41', '42', '43'} and
                out['skipped_empty'] == 2 and out['skipped_long'] == 1 and
                out['dropped_princhash'] == 1,
                'schema 4 in grace: rec-<recovery> only; NULL/empty/long '
                'skipped, bad princhash dropped', '%r %s' % (out, err))
        t.check(recs.get('41', {}).get('princhash') == '11' * 32 and
                recs.get('42', {}).get('princhash') is None and
                recs.get('43', {}).get('princhash') is None,
                'a 32-byte princhash is kept, others are not')

        d5 = umhlib.Cltrackd(env, 'd5').start()
        s5 = env.path('s5.sqlite')
        sql(s5, "CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO parameters VALUES ('version','3');"
            "CREATE TABLE grace (current INTEGER, recovery INTEGER);"
            "INSERT INTO grace VALUES (27, 0);"
            "CREATE TABLE \"rec-1b\" (id BLOB PRIMARY KEY);"
            "CREATE TABLE \"rec-1a\" (id BLOB PRIMARY KEY);"
            "INSERT INTO \"rec-1b\" VALUES (x'51'), (x'52');"
            "INSERT INTO \"rec-1a\" VALUES (x'50');")
        rc, out, err = import_(d5, 'nfsdcld', s5)
        t.check(rc == 0 and set(d5.records()) == {'51', '52'},
                'schema 3, not in grace, unpadded rec-1b = current epoch 27',
                '%r %s' % (out, err))
        s1 = env.path('s1.sqlite')
        sql(s1, "CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO parameters VALUES ('version','1');"
            "CREATE TABLE clients (id BLOB PRIMARY KEY, time INTEGER);"
            "INSERT INTO clients VALUES (x'61', 5), (x'62', 6);")
        rc, out, err = import_(d5, 'nfsdcld', s1)
        t.check(rc == 0 and out['stored'] == 2 and
                set(d5.records()) == {'51', '52', '61', '62'},
                'schema 1 clients(id, time): every id', err)

        # --- broken sources: clear error, nothing changed ---
        before = d5.records()
        bad = env.path('garbage.sqlite')
        with open(bad, 'wb') as f:
            f.write(os.urandom(8192))
        s6 = env.path('s6.sqlite')
        sql(s6, "CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO parameters VALUES ('version','5');")
        s7 = env.path('s7.sqlite')
        sql(s7, "CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO parameters VALUES ('version','4');"
            "CREATE TABLE grace (current INTEGER, recovery INTEGER);"
            "INSERT INTO grace VALUES (9, 8);"
            "CREATE TABLE \"rec-0000000000000009\" (id BLOB PRIMARY KEY, "
            "princhash BLOB);"
            "INSERT INTO \"rec-0000000000000009\" VALUES (x'71', NULL);")
        for what, args, text in [
                ('a corrupt file', ['nfsdcld', bad], 'not a readable'),
                ('an unknown schema version', ['nfsdcld', s6], 'version 5'),
                ('a missing recovery table', ['nfsdcld', s7],
                 'rec-0000000000000008'),
                ('an nfsdcld database read as nfsdcltrack',
                 ['nfsdcltrack', s7], 'not an nfsdcltrack'),
                ('a directory without main.sqlite',
                 ['nfsdcld', env.path('v4recovery')], 'main.sqlite'),
                ('a missing path', ['v4recovery', env.path('nope')],
                 'cannot read directory'),
                ('an unknown source', ['ganesha', s1], 'needs a source')]:
            r = d5.cltrack('import', *args)
            t.check(r.returncode != 0 and text in r.stderr and
                    d5.records() == before,
                    'import of %s fails clearly and changes nothing' % what,
                    'rc %d: %s' % (r.returncode, r.stderr.strip()))
        t.check(sql(s7, 'SELECT count(*) FROM "rec-0000000000000009"')
                .strip() == '1', 'the source database is left as it was')

        # --- export and list filters ---
        r = d5.cltrack('export', '--json')
        ex = json.loads(r.stdout) if r.returncode == 0 else {}
        t.check(ex.get('format') == 'cltrack-export' and
                ex.get('current_epoch') == 1 and
                {c['id_hex'] for c in ex.get('clients', [])} ==
                set(before), 'export --json holds every record and the '
                'epochs', r.stderr)
        def listed(*args):
            r = d5.cltrack('--json', 'list', *args)
            return (r.returncode, {e['id_hex'] for e in json.loads(r.stdout)}
                    if r.returncode == 0 else r.stderr)
        t.check(listed('--epoch', '1') == (0, set(before)) and
                listed('--epoch', '2') == (0, set()),
                'list --epoch selects by epoch')
        t.check(listed('--node', '0') == (0, set(before)) and
                listed('--node', '3') == (0, set()),
                'list --node selects by creating node')
        t.check(listed('--reclaimable') == (0, set()),
                'list --reclaimable is empty outside grace')
        for bad_args in (['--epoch', '0'], ['--epoch', 'x'], ['--node'],
                         ['--node', '-1'], ['--frob']):
            rc, err = listed(*bad_args)
            t.check(rc != 0 and 'cltrack' in err,
                    'list %s is refused with a message' % ' '.join(bad_args),
                    str(err))
    return t.summary()


if __name__ == '__main__':
    sys.exit(main())
