#!/usr/bin/env python3
"""The scenario table, read from the headers of qemu/scenarios/*.sh: one file per scenario.

A scenario script declares itself in its first 20 lines:

  # scenario: machine=nvdimm2 role=daxmap control=no series=6.12,7.2 order=50
  # checks: what the scenario checks (one line: qemu/README.md's scenario table)

  machine  nvdimm (default) | nvdimm2 | memmap | cxl | hmem  (qemu/lib/vm.sh)
  role     daxmap (default): run by daxmap, in the default matrix
           reproducer: a kernel defect's reproducer; plain processes, run as a control
                       under its own name (no oops=panic), no daxmap run
           manual: run only when named (--scenario), listed after the matrix's
           soak: run only by --soak, not listed
  control  yes: also a control run, scenarios/control-NAME.sh (plain processes); default no
  series   the Debian series the DEFAULT matrix runs it on (comma-separated); default all.
           Named with --scenario it runs on every series.
  order    its place in the run and in the matrix table (ascending; ties by name); default 1000

A file with no header is a daxmap scenario on the nvdimm machine, on every series, run
after the others. Not scenarios: lib.sh, *-lib.sh (sourced helpers) and control-NAME.sh
(the control run of NAME; its `# checks:` line describes it in the README table).

  scenarios.py shell            bash declarations for qemu/run (ALL_SCENARIOS, MANUAL_SCENARIOS,
                                MACHINE, HAS_CONTROL, REPRODUCER, MATRIX_SERIES)
  scenarios.py lint             check every header; exit 1 naming the file and the problem
  scenarios.py readme FILE      rewrite FILE's block between <!-- scenarios --> and <!-- /scenarios -->
  scenarios.py readme-check FILE  exit 1 if that block is not what `readme` would write
"""
import os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(HERE, '..', 'scenarios')
MACHINES = ('nvdimm', 'nvdimm2', 'memmap', 'cxl', 'hmem')
ROLES = ('daxmap', 'reproducer', 'manual', 'soak')
DEFAULTS = {'machine': 'nvdimm', 'role': 'daxmap', 'control': 'no', 'series': '', 'order': '1000'}
HEADER_LINES = 20
BEGIN, END = '<!-- scenarios -->', '<!-- /scenarios -->'


class HeaderError(Exception):
    pass


def is_scenario_file(fname):
    return fname.endswith('.sh') and fname != 'lib.sh' and not fname.endswith('-lib.sh') \
        and not fname.startswith('control-')


def read_header(path):
    """(fields, checks) from a script's first lines; fields has only the declared keys."""
    fields, checks = {}, None
    with open(path, errors='replace') as f:
        head = [next(f, '') for _ in range(HEADER_LINES)]
    for n, line in enumerate(head, 1):
        m = re.match(r'# scenario:(.*)$', line)
        if m:
            if fields:
                raise HeaderError(f'{path}:{n}: a second "# scenario:" line')
            for item in m.group(1).split():
                if '=' not in item:
                    raise HeaderError(f'{path}:{n}: "{item}" is not KEY=VALUE')
                k, v = item.split('=', 1)
                if k not in DEFAULTS:
                    raise HeaderError(f'{path}:{n}: unknown key "{k}" (known: {", ".join(DEFAULTS)})')
                fields[k] = v
        m = re.match(r'# checks: (.*)$', line)
        if m:
            checks = m.group(1).strip()
    return fields, checks


def load(directory=SCENARIO_DIR):
    """Every scenario, as dicts, in run order. Raises HeaderError on a bad header."""
    out = []
    for fname in sorted(os.listdir(directory)):
        if not is_scenario_file(fname):
            continue
        path = os.path.join(directory, fname)
        name = fname[:-3]
        fields, checks = read_header(path)
        s = dict(DEFAULTS, **fields)
        where = f'{path}: header'
        if s['machine'] not in MACHINES:
            raise HeaderError(f'{where}: machine "{s["machine"]}" is not one of {", ".join(MACHINES)}')
        if s['role'] not in ROLES:
            raise HeaderError(f'{where}: role "{s["role"]}" is not one of {", ".join(ROLES)}')
        if s['control'] not in ('yes', 'no'):
            raise HeaderError(f'{where}: control "{s["control"]}" is not yes or no')
        if not re.fullmatch(r'[0-9]{1,6}', s['order']):
            raise HeaderError(f'{where}: order "{s["order"]}" is not a whole number')
        if s['series'] and not re.fullmatch(r'[0-9]+\.[0-9]+(,[0-9]+\.[0-9]+)*', s['series']):
            raise HeaderError(f'{where}: series "{s["series"]}" is not a comma-separated list like 6.12,7.2')
        control_path = os.path.join(directory, f'control-{name}.sh')
        if s['control'] == 'yes' and not os.path.isfile(control_path):
            raise HeaderError(f'{where}: control=yes but there is no control-{name}.sh')
        if s['control'] == 'no' and os.path.isfile(control_path):
            raise HeaderError(f'{where}: control-{name}.sh exists but the header does not say control=yes')
        if s['control'] == 'yes' and s['role'] != 'daxmap':
            raise HeaderError(f'{where}: control=yes needs role=daxmap (a reproducer is its own control)')
        s.update(name=name, order=int(s['order']), series=s['series'].split(',') if s['series'] else [],
                 checks=checks, control=s['control'] == 'yes', path=path)
        out.append(s)
    for fname in sorted(os.listdir(directory)):
        if fname.startswith('control-') and fname.endswith('.sh') and fname != 'control-lib.sh':
            if not any(s['name'] == fname[len('control-'):-3] for s in out):
                raise HeaderError(f'{os.path.join(directory, fname)}: a control for no scenario '
                                  f'({fname[len("control-"):-3]}.sh is missing)')
    out.sort(key=lambda s: (s['order'], s['name']))
    return out


def shell(scenarios):
    q = lambda v: "'" + v.replace("'", "'\\''") + "'"
    lines = ['ALL_SCENARIOS=(' + ' '.join(s['name'] for s in scenarios if s['role'] in ('daxmap', 'reproducer')) + ')',
             'MANUAL_SCENARIOS=(' + ' '.join(s['name'] for s in scenarios if s['role'] == 'manual') + ')',
             'declare -A MACHINE=(' + ' '.join(f'[{s["name"]}]={s["machine"]}' for s in scenarios) + ')',
             'declare -A HAS_CONTROL=(' + ' '.join(f'[{s["name"]}]=1' for s in scenarios if s['control']) + ')',
             'declare -A REPRODUCER=(' + ' '.join(f'[{s["name"]}]=1' for s in scenarios if s['role'] == 'reproducer') + ')',
             'declare -A MATRIX_SERIES=(' + ' '.join(f'[{s["name"]}]={q(" ".join(s["series"]))}'
                                                     for s in scenarios if s['series']) + ')']
    return '\n'.join(lines) + '\n'


def md(s):
    return str(s).replace('|', '\\|')


def readme_block(scenarios, directory=SCENARIO_DIR):
    rows = ['| name | machine | runs | what is checked |', '|---|---|---|---|']
    for s in scenarios:
        if s['role'] == 'reproducer':
            runs = 'reproducer (plain processes, as a control)'
        elif s['role'] == 'manual':
            runs = 'when named (`--scenario`)'
        elif s['role'] == 'soak':
            runs = '`make soak` only'
        else:
            runs = 'daxmap' + (' + control' if s['control'] else '')
        if s['role'] in ('daxmap', 'reproducer') and s['series']:
            runs += '; default matrix: ' + ', '.join(s['series']) + ' only'
        rows.append(f"| {s['name']} | {s['machine']} | {runs} | {md(s['checks'] or '(no `# checks:` line)')} |")
        if s['control']:
            _, checks = read_header(os.path.join(directory, f'control-{s["name"]}.sh'))
            rows.append(f"| control-{s['name']} | {s['machine']} | control of {s['name']} | "
                        f"{md(checks or '(no `# checks:` line)')} |")
    return (BEGIN + '\n<!-- written by qemu/lib/scenarios.py readme qemu/README.md from the scenario headers: '
            'edit those, not this table -->\n\n' + '\n'.join(rows) + '\n\n' + END)


def rewrite(text, block, path):
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise HeaderError(f'{path}: no {BEGIN} ... {END} block to rewrite')
    return text[:i] + block + text[j + len(END):]


def main(argv):
    if not argv or argv[0] not in ('shell', 'lint', 'readme', 'readme-check'):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        scenarios = load()
        if argv[0] == 'shell':
            sys.stdout.write(shell(scenarios))
        elif argv[0] == 'lint':
            missing = [s['name'] for s in scenarios if not s['checks']]
            if missing:
                raise HeaderError('no "# checks:" line in ' + ', '.join(f'scenarios/{n}.sh' for n in missing))
            print(f'{len(scenarios)} scenario headers ok')
        else:
            if len(argv) != 2:
                print('usage: scenarios.py readme|readme-check FILE', file=sys.stderr)
                return 2
            text = open(argv[1]).read()
            new = rewrite(text, readme_block(scenarios), argv[1])
            if argv[0] == 'readme':
                if new != text:
                    open(argv[1], 'w').write(new)
            elif new != text:
                print(f'{argv[1]}: the scenario table is not what the headers say; run '
                      f'qemu/lib/scenarios.py readme {argv[1]}', file=sys.stderr)
                return 1
    except HeaderError as e:
        print(f'scenarios.py: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
