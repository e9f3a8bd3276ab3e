#!/usr/bin/env python3
"""The kernel matrix of one qemu/run: RUN_DIR/<series>/<vm>/ -> matrix.json, matrix.md, table.

Per VM directory: meta.txt (series, scenario, run, qemuRc, seconds, release), verdict.txt (the
line qemu/run printed), console.log, share/facts.txt (KEY=VALUE lines the guest wrote as it
learnt them; the last value of a key wins), share/result.txt. What only the console shows
(oopses, hung-task reports, the unbind's backtrace) is read from console.log here.

  matrix.py RUN_DIR            write RUN_DIR/matrix.json and RUN_DIR/matrix.md, print the table
"""
import json, os, re, sys

import scenarios  # the scenario headers (qemu/lib/scenarios.py): run order, reproducer role

OOPS = re.compile(r'BUG: |Oops: |general protection fault|Kernel panic - not syncing|kernel BUG at')
HUNG = re.compile(r'INFO: task (\S+?):(\d+) blocked for more than (\d+) seconds')
WARN = re.compile(r'WARNING: CPU|refcount_t: ')


def kv(path):
    d = {}
    try:
        for line in open(path, errors='replace'):
            line = line.rstrip('\n')
            if '=' in line:
                k, v = line.split('=', 1)
                d[k] = v.strip()
    except FileNotFoundError:
        pass
    return d


def strip_ts(line):
    return re.sub(r'^\[ *[0-9.]+\] ', '', line).strip()


def console_facts(path):
    c = {'oops': None, 'oopsAt': None, 'hungTaskReports': 0, 'hungTasks': [], 'warnings': 0,
         'release': None, 'livelockTrace': False}
    try:
        text = open(path, errors='replace').read()
    except FileNotFoundError:
        return c
    m = re.search(r'DAXMAP-INIT: kernel (\S+) up', text)
    c['release'] = m.group(1) if m else None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if c['oops'] is None and OOPS.search(line):
            c['oops'] = strip_ts(line)
            for l2 in lines[i:i + 40]:
                m = re.search(r'RIP: [0-9a-f]{4}:(\S+)', l2)
                if m:
                    c['oopsAt'] = m.group(1).split('+')[0]
                    break
            for l2 in lines[i:i + 40]:
                m = re.search(r'Comm: (\S+)', l2)
                if m:
                    c['oopsComm'] = m.group(1)
                    break
        m = HUNG.search(line)
        if m:
            c['hungTaskReports'] += 1
            if m.group(1) not in c['hungTasks']:
                c['hungTasks'].append(m.group(1))
        if WARN.search(line):
            c['warnings'] += 1
    c['livelockTrace'] = bool(re.search(r'dax_lock_mapping_entry|mf_dax_kill_procs', text))
    return c


def listish(v):
    return [] if v in (None, '', 'none') else v.split()


def row_for(vmdir, reproducers):
    meta = kv(os.path.join(vmdir, 'meta.txt'))
    if not meta:
        return None
    facts = kv(os.path.join(vmdir, 'share', 'facts.txt'))
    con = console_facts(os.path.join(vmdir, 'console.log'))
    try:
        verdict = open(os.path.join(vmdir, 'verdict.txt')).read().strip()
    except FileNotFoundError:
        verdict = ''
    results = open(os.path.join(vmdir, 'share', 'result.txt'), errors='replace').read() \
        if os.path.exists(os.path.join(vmdir, 'share', 'result.txt')) else ''
    run = meta.get('run', 'daxmap')
    r = {
        'scenario': meta.get('scenario'), 'kernel': con['release'] or meta.get('release'),
        'series': meta.get('series'), 'debianVersion': meta.get('pkgver'), 'run': run,
        'verdict': verdict.split(' ', 1)[0] if verdict else 'NONE', 'verdictLine': verdict,
        'seconds': int(meta.get('seconds', 0) or 0), 'qemuRc': meta.get('qemuRc'),
    }
    # Removals: PREFIX.removal keys (control) or removal.TAG keys (daxmap scenarios).
    removals = {}
    for k, v in facts.items():
        if k.endswith('.removal'):
            removals[k[:-len('.removal')]] = v
        elif k.startswith('removal.'):
            removals[k[len('removal.'):]] = v
    r['removals'] = removals
    r['removalSeconds'] = {k[:-len('.removalSeconds')]: v for k, v in facts.items() if k.endswith('.removalSeconds')}
    exits = {}
    for k, v in facts.items():
        m = re.match(r'(?:(.+)\.)?exit\.(.+)$', k)
        if m:
            exits[(m.group(1) + '/' if m.group(1) else '') + m.group(2)] = v
    # A plain mapper beside daxmap's holders (the daxmap runs' in-VM control) is
    # expected to die of SIGBUS: kept apart, not counted against daxmap.
    r['plainBeside'] = {k: v for k, v in exits.items() if 'plain' in k} if run == 'daxmap' else {}
    exits = {k: v for k, v in exits.items() if k not in r['plainBeside']}
    r['exitStatuses'] = exits
    sigs = []
    for name, v in exits.items():
        m = re.match(r'(\d+)', v)
        if m and int(m.group(1)) >= 128:
            sigs.append(f"{name}:{v.split()[1].strip('()') if len(v.split()) > 1 else 'signal ' + str(int(m.group(1)) - 128)}")
    r['signals'] = sigs
    r['crashes'] = len(sigs)
    dst = []
    for k, v in facts.items():
        if (k.endswith('.dstate') or k.endswith('.dstateAfterUmount') or k == 'dstate') and v:
            dst += [x for x in v.split() if x not in dst]
    r['dstate'] = dst
    unk = []
    for k, v in facts.items():
        if k.endswith('.unkillable') and v not in ('', 'none'):
            unk += [x.strip() for x in v.split(' | ') if x.strip()]
    r['unkillable'] = unk
    r['hungTaskReports'] = con['hungTaskReports']
    r['hungTasks'] = con['hungTasks']
    r['oops'] = (con['oops'] + (f" at {con['oopsAt']}" if con['oopsAt'] else '') +
                 (f" (Comm: {con.get('oopsComm')})" if con.get('oopsComm') else '')) if con['oops'] else None
    r['oopsAt'], r['oopsComm'] = con['oopsAt'], con.get('oopsComm')
    r['kernelWarnings'] = con['warnings']
    um = [v for k, v in facts.items() if k.endswith('.umount') or k == 'umount']
    r['umount'] = um[-1] if um else None
    if r['umount'] == 'attempting':
        r['umount'] = 'oops' if con['oops'] else 'never returned (VM stopped)'
    rb = [v for k, v in facts.items() if k.endswith('.rebind') or k == 'rebind']
    r['rebind'] = rb[-1] if rb else None
    rm = [v for k, v in facts.items() if k.endswith('.remount') or k == 'remount']
    r['remount'] = rm[-1] if rm else None
    acked = [int(v) for k, v in facts.items() if k.endswith('recordsAcknowledged') and v.isdigit()]
    lost = [int(v) for k, v in facts.items() if k.endswith('recordsLost') and v.isdigit()]
    r['recordsAcknowledged'] = sum(acked) if acked else None
    r['recordsLost'] = sum(lost) if lost else None
    datanote = [v for k, v in facts.items() if k.endswith('.data') or k == 'data']
    r['dataIntact'] = (r['recordsLost'] == 0) if lost else None
    r['dataNote'] = datanote[-1] if datanote else None
    r['sigbusMessages'] = sum(int(v) for k, v in facts.items() if k.endswith('sigbusMessages') and v.isdigit())
    r['preRemove'] = any(v == 'yes' for k, v in facts.items() if k.endswith('preRemove'))
    r['fsShutdown'] = any(v == 'yes' for k, v in facts.items() if k.endswith('fsShutdown'))
    srcs = sorted({v for k, v in facts.items() if k.startswith('removalSource.')})
    if srcs:
        r['removalSource'] = srcs
    m = re.search(r'^defect .*\|([^|]*)$', results, re.M)
    r['knownDefect'] = m.group(1) if m and r['verdict'] == 'KNOWN' else None
    if r['verdict'] == 'KNOWN' and not r['knownDefect']:
        m = re.search(r'known kernel defect: (.*?)\)?$', verdict)
        r['knownDefect'] = m.group(1) if m else 'named in the verdict'
    m = re.search(r'^skip (.*)$', results, re.M)
    r['skipped'] = m.group(1) if m else None
    r['hardStop'] = bool(re.search(r'^hard-stop ', results, re.M))
    r['guestTimeout'] = r['qemuRc'] in ('124', '137')
    r['stoppedWedged'] = facts.get('vm.stopped')  # the wedge watchdog's reason (vm.sh)
    # graceful: no process hung, crashed or stayed unkillable, umount worked where there is
    # a mount, nothing acknowledged was lost.
    why = []
    stuck = [k for k, v in removals.items() if v != 'returned']
    if stuck:
        why.append('removal never returned (' + ', '.join(stuck) + ')')
    if r['crashes']:
        why.append(f"{r['crashes']} process(es) killed by a signal")
    if r['dstate']:
        why.append(f"{len(r['dstate'])} task(s) in D state")
    if r['unkillable']:
        why.append(f"{len(r['unkillable'])} unkillable")
    if r['hungTaskReports']:
        why.append(f"{r['hungTaskReports']} hung-task report(s)")
    if r['oops']:
        why.append('oops')
    if r['umount'] not in (None, 'ok'):
        why.append('umount: ' + r['umount'].split(':')[0])
    if r['recordsLost']:
        why.append(f"{r['recordsLost']} acknowledged record(s) lost")
    if r['dataIntact'] is None and run == 'control':
        why.append('data not checked: ' + (r['dataNote'] or 'not reached'))
    if r['guestTimeout']:
        why.append('VM killed at the harness timeout')
    if r['stoppedWedged']:
        why.append('VM stopped by the host: ' + r['stoppedWedged'])
    if run == 'daxmap' and r['verdict'] != 'PASS':
        why.append('verdict ' + r['verdict'])
    # Reproducers (role=reproducer in the scenario's header): whether the kernel showed the defect.
    if r['scenario'] in reproducers:
        r['reproducer'] = True
        r['reproduced'] = {'REPRODUCED': 'yes', 'NOT-REPRODUCED': 'no', 'INCONCLUSIVE': 'inconclusive'}.get(r['verdict'])
        m = re.search(r'^reproduced ([a-z]+)\|', results, re.M)
        r['reproducedKind'] = m.group(1) if m else None
    r['graceful'] = (not why) if r['verdict'] != 'SKIP' else None
    r['notGraceful'] = why
    return r


def cell_processes(r):
    """How the workload's processes ended, grouped: 'SIGBUS x2 (mmap), exit 1 x2 (dd)'."""
    groups = {}
    for v in r['exitStatuses'].values():
        m = re.match(r'(\d+)(?: \((SIG\w+)\))? ?(\S*)', v)
        if m:
            what = m.group(2) or ('exit ' + m.group(1))
            kind = m.group(3).split(',')[0]
        else:
            what, kind = ('running' if v.startswith('still running') else short(v, 20)), ''
        groups.setdefault((what, kind), 0)
        groups[(what, kind)] += 1
    if not groups:
        return '-'
    return ', '.join(f"{w} x{n}" + (f" ({k})" if k else '') for (w, k), n in sorted(groups.items()))


def md_escape(s):
    return str(s).replace('|', '\\|').replace('\n', ' ')


def short(s, n=70):
    s = str(s)
    return s if len(s) <= n else s[:n - 1] + '…'


def table(rows):
    hdr = ['scenario', 'kernel', 'run', 'graceful', 'removal returned', 'processes ended', 'D state / unkillable',
           'hung-task', 'oops', 'umount', 'data after re-bind', 'verdict']
    out = ['| ' + ' | '.join(hdr) + ' |', '|' + '---|' * len(hdr)]
    for r in rows:
        rem = ', '.join(f"{k}: {v}" for k, v in r['removals'].items()) or '-'
        if r['verdict'] == 'SKIP':
            graceful = 'skipped'
        elif r['verdict'] == 'KNOWN':
            graceful = '**no: known kernel defect**'
        else:
            graceful = 'yes' if r['graceful'] else '**no**'
        dst = (f"{len(r['dstate'])} D" if r['dstate'] else '0 D') + (f", {len(r['unkillable'])} survive kill -9" if r['unkillable'] else '')
        if r['recordsLost'] is not None:
            data = f"{r['recordsAcknowledged'] - r['recordsLost']}/{r['recordsAcknowledged']} intact"
        else:
            data = short(r['dataNote'] or (r['remount'] and 'remount: ' + r['remount']) or '-', 50)
        v = r['verdictLine'].split(' ', 1)[0]
        if v == 'KNOWN':
            v = 'KNOWN: ' + short(r['knownDefect'] or '', 60)
        elif v == 'FAIL':
            v = 'FAIL: ' + short(r['verdictLine'].split(':', 1)[-1].strip(), 60)
        elif v == 'SKIP':
            v = 'SKIP: ' + short(r['skipped'] or '', 60)
        elif v in ('REPRODUCED', 'NOT-REPRODUCED', 'INCONCLUSIVE'):
            v = v + ': ' + short(r['verdictLine'].split(':', 1)[-1].strip(), 60)
            graceful = '-'
        oops = '-'
        if r['oops']:
            oops = (r.get('oopsAt') or short(r['oops'], 40)) + (f" ({r['oopsComm']})" if r.get('oopsComm') else '')
        um = r['umount'] or '-'
        if um.startswith('oops'):
            um = 'oops'
        removal = sorted(set(r['removals'].values()))
        rem = '/'.join(removal) if removal else '-'
        if r['removalSeconds']:
            rem += ' (' + ', '.join(f"{v}s" for v in r['removalSeconds'].values()) + ')'
        cells = [r['scenario'], r['kernel'], r['run'], graceful, rem, cell_processes(r), dst,
                 str(r['hungTaskReports']), oops, short(um, 40), data, v]
        out.append('| ' + ' | '.join(md_escape(c) for c in cells) + ' |')
    return '\n'.join(out)


def main():
    run_dir = sys.argv[1]
    order = {'6.1': 0, '6.12': 1, '7.2': 2}
    heads = scenarios.load()
    reproducers = {s['name'] for s in heads if s['role'] == 'reproducer'}
    rows = []
    for series in sorted(os.listdir(run_dir), key=lambda s: (order.get(s, 9), s)):
        sd = os.path.join(run_dir, series)
        if not os.path.isdir(sd) or series == 'boot-failures':
            continue
        for vm in os.listdir(sd):
            r = row_for(os.path.join(sd, vm), reproducers)
            if r:
                rows.append(r)
    sorder = [s['name'] for s in heads]   # the run order
    rows.sort(key=lambda r: (sorder.index(r['scenario']) if r['scenario'] in sorder else 99, order.get(r['series'], 9),
                             0 if r['run'] == 'control' else 1))
    json.dump(rows, open(os.path.join(run_dir, 'matrix.json'), 'w'), indent=1)
    t = table(rows)
    with open(os.path.join(run_dir, 'matrix.md'), 'w') as f:
        f.write('# Kernel matrix\n\n' + t + '\n\n')
        f.write('Why a cell is not graceful:\n\n')
        for r in rows:
            if r['notGraceful'] and r['verdict'] != 'SKIP' and not r.get('reproducer'):
                f.write(f"- {r['scenario']} / {r['kernel']} / {r['run']}: {'; '.join(r['notGraceful'])}\n")
    print()
    print(t)
    print()


if __name__ == '__main__':
    main()
