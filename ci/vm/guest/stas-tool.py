#!/usr/bin/python3
"""stas-tool.py - helpers of the nvme-stas cases, run with the Debian 13
userland's python3 inside the chroot (ci/vm/guest/stas-lib.sh).

  stas-tool.py iocs < REPLY
      REPLY: dbus-send --print-reply=literal of stafd's get_all_log_pages;
      prints "subnqn traddr trsvcid" of every entry of subtype nvme, sorted
  stas-tool.py difftable DIR
      DIR/NN-name/{original,ours}.{sysfs,strace,rc} of each configuration
      of the differential case (tests/vm/q-stas-differential.sh): prints
      one row per configuration (the controllers each daemon left in the
      kernel, the connect strings each wrote to /dev/nvme-fabrics) and a
      verdict; exit status 1 when a configuration without a "deliberate"
      note differs, or one with such a note does not
  stas-tool.py closure PKG
      "packages N files N bytes N": PKG and what it depends on (Depends,
      Pre-Depends, recursively, the first installed alternative), from
      dpkg's database: what must be installed to run it
  stas-tool.py opened STRACE_OUTPUT
      "files N bytes N": the regular files a program opened or executed
      (strace -f -e trace=openat,open,execve), outside /proc, /sys, /dev,
      /run, /tmp and the configuration (/etc/stas, /etc/nvme)
  stas-tool.py sidebyside DIR_ORIGINAL DIR_OURS
      each DIR holds the output of nvme-stas's stacctl (ls, ls-d, status:
      Python literals printed by pprint); prints one row per value, the
      original's next to ours, with a verdict; exit status 1 when a value
      differs that docs/dbus.md does not list
"""
import ast
import json
import os
import sys

# Values that differ on purpose, each with its reason (docs/dbus.md,
# "Differences from nvme-stas, on purpose").
DOCUMENTED = {
    "last known config file":
        "ours names its own state file, /run/stacd/state.json (docs/dbus.md)",
}


def iocs(text):
    # --print-reply=literal prints the string as it is, indented
    pages = json.loads(text.strip())
    out = set()
    for dc in pages:
        for e in dc.get("log-pages") or []:
            if e.get("subtype") == "nvme":
                out.add("%s %s %s" % (e.get("subnqn"), e.get("traddr"), e.get("trsvcid")))
    for line in sorted(out):
        print(line)


def ident(c):
    return "(%s, %s, %s, %s)" % (c.get("transport"), c.get("traddr"), c.get("trsvcid"), c.get("subsysnqn"))


def flatten(view, value):
    """{(view, controller, key): value}; controllers by their identity, so
    that the order of the lists does not matter (D-Bus gives no order)."""
    rows = {}
    if isinstance(value, list):
        for c in value:
            for k, v in c.items():
                rows[(view, ident(c), k)] = v
    else:
        for k, v in value.items():
            if k == "controllers":
                for c in v:
                    for kk, vv in c.items():
                        rows[(view, ident(c), kk)] = vv
            else:
                rows[(view, "", k)] = v
    return rows


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return ast.literal_eval(f.read())


def short(v, n=44):
    t = repr(v) if not isinstance(v, str) else v
    return t if len(t) <= n else t[: n - 3] + "..."


def sidebyside(orig, ours):
    a, b = {}, {}
    for view in ("ls", "ls-d", "status"):
        a.update(flatten(view, load(orig, view)))
        b.update(flatten(view, load(ours, view)))
    bad = 0
    same = 0
    print("%-6s %-22s %-26s %-44s %-44s %s" % ("view", "controller", "key", "nvme-stas 2.4.1", "ours", "verdict"))
    for key in sorted(set(a) | set(b)):
        view, ctrl, k = key
        va = a.get(key, "<missing>")
        vb = b.get(key, "<missing>")
        if va == vb:
            verdict = "same"
            same += 1
        elif k in DOCUMENTED and key in a and key in b:
            verdict = "documented: " + DOCUMENTED[k]
        else:
            verdict = "DIFFERENT"
            bad += 1
        c = ctrl.replace("nqn.2024-01.io.testbed:", "")
        print("%-6s %-22s %-26s %-44s %-44s %s" % (view, c, k, short(va), short(vb), verdict))
        if verdict == "DIFFERENT" and (len(str(va)) > 44 or len(str(vb)) > 44):
            print("         original: %r\n         ours:     %r" % (va, vb))
    print("%d values: %d the same, %d documented differences, %d undocumented differences"
          % (len(set(a) | set(b)), same, len(set(a) | set(b)) - same - bad, bad))
    return 1 if bad else 0


def connect_strings(path):
    """The strings written to /dev/nvme-fabrics (strace -P ... -e trace=write
    -s 4096 -o PATH), each as its sorted options, as a set: retries repeat
    a string, and the order of the options carries no meaning."""
    out = set()
    try:
        text = open(path).read()
    except OSError:
        return out
    for line in text.splitlines():
        i = line.find('write(')
        if i < 0:
            continue
        q = line.find('"', i)
        r = line.find('", ', q + 1)
        if q < 0 or r < 0:
            continue
        opts = line[q + 1:r].replace('\\n', '').split(',')
        out.add(','.join(sorted(o for o in opts if o)))
    return out


def read(path, default=''):
    try:
        return open(path).read()
    except OSError:
        return default


def brief(lines, hostnqn):
    """ "4420/sub1 8009/sub2" for the table"""
    items = []
    for l in sorted(lines):
        f = l.split()
        nqn = f[3].replace('nqn.2024-01.io.testbed:', '')
        items.append('%s/%s%s' % (f[2], nqn, '' if l.endswith('state=live') else '(' + l.rsplit('state=', 1)[-1] + ')'))
    return ' '.join(items) if items else '-'


def shorten(t, hostnqn, hostid):
    return t.replace(hostnqn, '<hostnqn>').replace(hostid, '<hostid>')


def difftable(top):
    hostnqn = os.environ.get('HOSTNQN', '@')
    hostid = os.environ.get('HOSTID', '@')
    rows = []
    bad = 0
    details = []
    for name in sorted(os.listdir(top)):
        d = os.path.join(top, name)
        if not os.path.isdir(d):
            continue
        res = {}
        for side in ('original', 'ours'):
            sysfs = set(l for l in read(os.path.join(d, side + '.sysfs')).splitlines() if l.strip())
            res[side] = (sysfs, connect_strings(os.path.join(d, side + '.strace')),
                         read(os.path.join(d, side + '.rc')).strip())
        note = read(os.path.join(d, 'deliberate')).strip()
        o, u = res['original'], res['ours']
        same_k = o[0] == u[0]
        same_c = o[1] == u[1]
        if same_k and same_c:
            verdict = 'same'
            if note:
                verdict = 'SAME, but marked deliberate'
                bad += 1
        elif note:
            verdict = 'deliberate (docs/migrating.md, %s)' % note
        else:
            verdict = 'DIFFERENT (%s)' % ', '.join(w for w, s in (('kernel', same_k), ('connects', same_c)) if not s)
            bad += 1
        def cell(r):
            t = '%s; %d connect%s' % (brief(r[0], hostnqn), len(r[1]), '' if len(r[1]) == 1 else 's')
            return t + ('; ' + r[2] if r[2] else '')
        rows.append((name, cell(o), cell(u), verdict))
        if not (same_k and same_c):
            det = ['%s:' % name]
            for label, a, b in (('kernel', o[0], u[0]), ('connect', o[1], u[1])):
                for l in sorted(a - b):
                    det.append('  %s, original only: %s' % (label, shorten(l, hostnqn, hostid)))
                for l in sorted(b - a):
                    det.append('  %s, ours only:     %s' % (label, shorten(l, hostnqn, hostid)))
            details.append('\n'.join(det))
    w = [max(len(r[i]) for r in rows + [('config', 'nvme-stas 2.4.1', 'ours', 'verdict')]) for i in range(3)]
    fmt = '%%-%ds  %%-%ds  %%-%ds  %%s' % tuple(w)
    print(fmt % ('config', 'controllers by nvme-stas 2.4.1', 'controllers by ours', 'verdict'))
    for r in rows:
        print(fmt % r)
    n_same = sum(1 for r in rows if r[3] == 'same')
    n_del = sum(1 for r in rows if r[3].startswith('deliberate'))
    print('%d configurations: %d the same, %d deliberate differences (docs/migrating.md), %d not accounted for'
          % (len(rows), n_same, n_del, bad))
    if details:
        print()
        print('differences in detail (<hostnqn>, <hostid>: the guest\'s own):')
        print('\n'.join(details))
    return 1 if bad else 0


def dpkg_status():
    pkgs = {}
    cur = {}
    key = None
    for line in open('/var/lib/dpkg/status', encoding='utf-8', errors='replace'):
        line = line.rstrip('\n')
        if not line:
            if cur.get('Package') and 'installed' in cur.get('Status', '').split():
                pkgs[cur['Package']] = cur
            cur, key = {}, None
        elif line[0] in ' \t':
            if key:
                cur[key] += ' ' + line.strip()
        else:
            key, _, v = line.partition(':')
            cur[key] = v.strip()
    if cur.get('Package') and 'installed' in cur.get('Status', '').split():
        pkgs[cur['Package']] = cur
    # Provides: virtual name -> a package providing it
    provides = {}
    for name, p in pkgs.items():
        for v in p.get('Provides', '').split(','):
            v = v.strip().split(' ')[0].split(':')[0]
            if v:
                provides.setdefault(v, name)
    return pkgs, provides


def closure(root):
    pkgs, provides = dpkg_status()
    seen = set()
    todo = [root]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        if n not in pkgs:
            n = provides.get(n, n)
            if n not in pkgs or n in seen:
                continue
        seen.add(n)
        deps = ','.join(pkgs[n].get(k, '') for k in ('Depends', 'Pre-Depends'))
        for alt in deps.split(','):
            for choice in alt.split('|'):
                c = choice.strip().split(' ')[0].split(':')[0]
                if c and (c in pkgs or c in provides):
                    todo.append(c)
                    break
    files = 0
    size = 0
    for n in seen:
        arch = pkgs[n].get('Architecture', '')
        for lst in ('/var/lib/dpkg/info/%s:%s.list' % (n, arch), '/var/lib/dpkg/info/%s.list' % n):
            if os.path.exists(lst):
                for f in open(lst, encoding='utf-8', errors='replace'):
                    f = f.rstrip('\n')
                    try:
                        st = os.lstat(f)
                    except OSError:
                        continue
                    if os.path.isfile(f) and not os.path.islink(f):
                        files += 1
                        size += st.st_size
                break
    print('packages %d files %d bytes %d' % (len(seen), files, size))


SKIP = ('/proc/', '/sys/', '/dev/', '/run/', '/tmp/', '/etc/stas/', '/etc/nvme/')


def opened(path):
    import re
    pat = re.compile(r'(?:openat\([^,]*, |open\(|execve\()"([^"]+)".*\) = (\d+)')
    seen = set()
    for line in open(path, errors='replace'):
        m = pat.search(line)
        if m and not m.group(1).startswith(SKIP):
            seen.add(m.group(1))
    files = 0
    size = 0
    for f in seen:
        try:
            st = os.stat(f)
        except OSError:
            continue
        if os.path.isfile(f):
            files += 1
            size += st.st_size
    print('files %d bytes %d' % (files, size))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "iocs":
        iocs(sys.stdin.read())
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "closure":
        closure(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "opened":
        opened(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "difftable":
        return difftable(sys.argv[2])
    if len(sys.argv) == 4 and sys.argv[1] == "sidebyside":
        return sidebyside(sys.argv[2], sys.argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
